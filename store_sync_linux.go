package main

// File-system calls of the store on Linux: fdatasync, inodes, NAME_MAX,
// flock.

import (
	"os"
	"syscall"
)

// syncData flushes f's data and the metadata needed to read it back
// (fdatasync), which is all an atomic replace needs before the rename.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// fileInode returns the inode number of fi; a rename into place always
// brings a new one.
func fileInode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// nameMax returns the longest file name the file system holding dir
// accepts, in bytes (NAME_MAX; 255 when statfs cannot tell).
func nameMax(dir string) int {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Namelen <= 0 {
		return 255
	}
	return int(st.Namelen)
}

// lockFileExclusive takes an exclusive flock on f without waiting; it fails
// when another open file (another server on the same folder) holds it.
func lockFileExclusive(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			return err
		}
	}
}

// permitsWrite reports whether fi's permission bits let an unprivileged
// process with this process's user and group ids write to it.
func permitsWrite(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	perm := fi.Mode().Perm()
	if !ok {
		return perm&0o222 != 0
	}
	switch {
	case int(st.Uid) == os.Geteuid():
		return perm&0o200 != 0
	case int(st.Gid) == os.Getegid():
		return perm&0o020 != 0
	}
	return perm&0o002 != 0
}
