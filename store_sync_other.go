//go:build !linux

package main

// File-system calls of the store elsewhere (no journal).

import (
	"errors"
	"os"
)

// syncData flushes f to disk.
func syncData(f *os.File) error { return f.Sync() }

// fileInode is not available here; size and time stand alone.
func fileInode(os.FileInfo) uint64 { return 0 }

// nameMax is the common NAME_MAX of 255 bytes.
func nameMax(string) int { return 255 }

// lockFileExclusive is not implemented here: the store runs without its
// journal.
func lockFileExclusive(*os.File) error { return errors.ErrUnsupported }

// permitsWrite reports whether fi's permission bits allow writing by anyone.
func permitsWrite(fi os.FileInfo) bool { return fi.Mode().Perm()&0o222 != 0 }
