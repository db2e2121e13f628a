package main

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
