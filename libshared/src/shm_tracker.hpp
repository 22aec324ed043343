// The resource tracker of SharedMemory segments, as Python's
// multiprocessing.resource_tracker: a small process, started at the first
// SharedMemory(name, size, create) of a program, that learns over a socket
// which segments the program created and has neither unlinked nor kept, and
// unlinks those once the socket reaches end-of-file, i.e. once the program is
// gone however it ended (normal exit, abort, kill -9, exec). It also gives
// back the Semaphore permits the program still held then, unless the program
// said it ended normally (shm_tracker_normal_end): a process that consumed
// permits as signals and returned keeps them, as in Python.
//
// The tracker is this same program re-run (/proc/self/exe, with posix_spawn:
// never a bare fork of a process that may hold a ZeroMQ context) with
// DPOOL_SHM_TRACKER set and its end of the socket at fd 3. A load-time hook in
// the object that defines these functions takes that role before main() (and,
// with libdpool.so, before the program's own static constructors), so it
// needs no dpool::init() and never reaches the program's main(). The tracker is not a
// dpool::Process (not in active_children()), ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C meant for
// the program must not take the clean-up with it), and exits right after the clean-up.
//
// The program's end of the socket is close-on-exec and is closed in the
// child of a bare fork(), so Processes and executors never keep the tracker
// alive. A program that never creates a segment nor acquires a semaphore
// starts no tracker.
#pragma once

#include <string>

namespace dpool::internal {

// The creating program's side. Thread-safe; never throws: if no tracker can
// be started, segments are still unlinked at a normal exit (by SharedMemory)
// and a program killed with -9 leaves them, as before.

// `name` (without '/') was created by this program: unlink it when it is gone.
void shm_track(const std::string& name);
// `name` was unlinked, or is to be kept: forget it.
void shm_untrack(const std::string& name);

// This process ends normally (a return from main or exit(), which call this
// from an atexit handler; the end of a Process's function or of an executor,
// whose _Exit paths call it): the permits it holds stay taken.
void shm_tracker_normal_end();

// This process may hold permits of the Semaphore whose SharedBlock is
// `block_fd` (not taken): once it ends, the tracker gives back what its
// holder slot says it held (semaphore_shared.hpp). Cheap after the first
// call for a semaphore (an fstat and a set lookup).
void semaphore_watch(int block_fd);

}  // namespace dpool::internal
