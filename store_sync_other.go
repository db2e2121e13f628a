//go:build !linux

package main

import "os"

// syncData flushes f to disk.
func syncData(f *os.File) error { return f.Sync() }

// fileInode is not available here; size and time stand alone.
func fileInode(os.FileInfo) uint64 { return 0 }
