/*
  dill: structured concurrency and layered network protocols for C.
  Source-compatible with the public API of libdill 2.14.

  Every blocking function takes a deadline: a point in time in milliseconds
  as returned by now(); 0 means "do not block", -1 means "no deadline".
  Functions report failure by returning -1 and setting errno.
  Short names (go, chsend, tcp_connect, ...) are macros over the dill_
  names unless DILL_DISABLE_RAW_NAMES is defined before inclusion.
*/

#ifndef LIBDILL_H_INCLUDED
#define LIBDILL_H_INCLUDED

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>
#if defined __linux__
#include <alloca.h>
#endif

/* Interface version (libtool style), as libdill 2.14 declares it. */
#define DILL_VERSION_CURRENT 25
#define DILL_VERSION_REVISION 0
#define DILL_VERSION_AGE 5

#if !defined __GNUC__ && !defined __clang__
#error "dill needs GCC or clang (statement expressions, inline assembly)"
#endif

#if defined DILL_NO_EXPORTS
#define DILL_EXPORT
#else
#define DILL_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/******************************************************************************/
/*  Time and file descriptors                                                 */
/******************************************************************************/

/* Monotonic time in milliseconds.  Deadlines are expressed in this clock. */
DILL_EXPORT int64_t dill_now(void);
/* Suspends the calling coroutine until the deadline.  Returns 0, or -1 with
   ECANCELED when the coroutine is cancelled. */
DILL_EXPORT int dill_msleep(int64_t deadline);
/* Waits until fd is readable (fdin) or writable (fdout), or the deadline
   expires.  Errors: EBADF, EBUSY (another coroutine waits on the same fd in
   the same direction), ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_fdin(int fd, int64_t deadline);
DILL_EXPORT int dill_fdout(int fd, int64_t deadline);
/* Forgets what the scheduler caches about fd.  Call before closing fd or
   handing it to other code.  Always returns 0. */
DILL_EXPORT int dill_fdclean(int fd);

/* The largest busy-poll budget (microseconds). */
#define DILL_BUSYPOLL_MAX 1000000
/* dill extension.  Sets how long (microseconds, 0 = off, the default,
   at most DILL_BUSYPOLL_MAX) the calling thread's scheduler polls for
   events without sleeping when it runs out of work; us == -1 leaves the
   setting alone.  Threads start with the value of the DILL_BUSYPOLL
   environment variable, if valid.  Returns the previous setting, or -1
   with EINVAL. */
DILL_EXPORT int64_t dill_busypoll(int64_t us);

#if !defined DILL_DISABLE_RAW_NAMES
#define now dill_now
#define busypoll dill_busypoll
#define msleep dill_msleep
#define fdin dill_fdin
#define fdout dill_fdout
#define fdclean dill_fdclean
#endif

/******************************************************************************/
/*  Handles                                                                   */
/******************************************************************************/

/* Gives the object behind h a new handle number and invalidates h.  On
   failure h is closed.  Errors: EBADF, ENOMEM. */
DILL_EXPORT int dill_hown(int h);
/* Closes a handle: cancels a coroutine or bundle and waits for it to exit,
   hard-closes a socket (and every layer below it).  Errors: EBADF. */
DILL_EXPORT int dill_hclose(int h);

#if !defined DILL_DISABLE_RAW_NAMES
#define hown dill_hown
#define hclose dill_hclose
#endif

/******************************************************************************/
/*  Coroutines                                                                */
/******************************************************************************/

/* Callee-saved state of a suspended execution context. */
#if (defined(__x86_64__) || defined(__aarch64__)) && !defined DILL_ARCH_FALLBACK
struct dill_jmpbuf {void *regs[24];};
#else
#include <setjmp.h>
struct dill_jmpbuf {jmp_buf buf;};
#endif

/* A coroutine's pointer arguments outlive the call expression that started
   it, which interprocedural analysis does not expect: it would let the
   caller cache its locals in registers while the coroutine writes them.
   GCC's noipa turns that analysis off; clang has no such switch short of
   optnone, so with clang coroutine bodies are compiled unoptimised (put
   hot loops in ordinary functions). */
#if defined __clang__
#define dill_coroutine __attribute__((noinline, optnone))
#elif defined __GNUC__ && __GNUC__ >= 8
#define dill_coroutine __attribute__((noinline, noipa))
#else
#define dill_coroutine __attribute__((noinline))
#endif

/* Internal to the go() macros: a store the compiler cannot remove, which
   keeps the caller's frame alive across the switch.  Not for direct use. */
DILL_EXPORT extern volatile void *dill_unoptimisable;

/* Internals of the go() family; not for direct use.  dill_prologue creates
   the coroutine, returns its handle and where to save the caller's context
   (*ctx) and where the new stack starts (*ptr); dill_enter_ runs first on the
   new stack, dill_resume_ when the caller is resumed; dill_epilogue ends the
   coroutine and never returns (it is not declared noreturn so that, to the
   compiler, the coroutine's path rejoins the caller's). */
DILL_EXPORT __attribute__((noinline)) int dill_prologue(struct dill_jmpbuf **ctx,
    void **ptr, size_t len, int bndl, const char *file, int line);
DILL_EXPORT void dill_enter_(void);
DILL_EXPORT void dill_resume_(void);
DILL_EXPORT __attribute__((noinline)) void dill_epilogue(void);

/* dill_setjmp_ (internal, assembly): saves the callee-saved registers and
   the stack pointer in *jb and returns 0; returns again, with 1, when the
   scheduler later switches back to that context. */
#if defined(__x86_64__) && !defined DILL_ARCH_FALLBACK
DILL_EXPORT int dill_setjmp_(struct dill_jmpbuf *jb) __attribute__((returns_twice));
#define dill_setjmp(jb) dill_setjmp_(jb)
/* The alloca forces a frame pointer, so the coroutine's arguments are read
   relative to it after the stack pointer moves. */
#define dill_setsp(x) \
    __asm__ volatile("" :: "r"(alloca(sizeof(size_t)))); \
    __asm__ volatile("movq %0, %%rsp" :: "r"(x) : "memory");
#elif defined(__aarch64__) && !defined DILL_ARCH_FALLBACK
/* The aarch64 version of dill_setjmp_ (see above). */
DILL_EXPORT int dill_setjmp_(struct dill_jmpbuf *jb) __attribute__((returns_twice));
#define dill_setjmp(jb) dill_setjmp_(jb)
#define dill_setsp(x) \
    __asm__ volatile("" :: "r"(alloca(sizeof(size_t)))); \
    __asm__ volatile("mov sp, %0" :: "r"(x) : "memory");
#else
/* Portable fallback: the C library's _setjmp, which the compiler knows
   returns twice, like the assembly versions above.  Not __builtin_setjmp:
   after its non-local label GCC may re-store a caller's local from a stack
   slot that the caller has since reused, and on s390x it does so right
   after the coroutine function returns, into the caller's live frame. */
#define DILL_PORTABLE_CTX 1
#define dill_setjmp(jb) _setjmp((jb)->buf)
#define dill_setsp(x) \
    dill_unoptimisable = alloca((char*)alloca(sizeof(size_t)) - (char*)(x));
#endif

#define dill_go_(fn, ptr, len, bndl) \
    ({\
        struct dill_jmpbuf *dill_ctx__;\
        void *dill_stk__ = (ptr);\
        volatile int dill_handle__ = dill_prologue(&dill_ctx__, &dill_stk__, (len),\
            (bndl), __FILE__, __LINE__);\
        if(dill_handle__ >= 0) {\
            if(!dill_setjmp(dill_ctx__)) {\
                dill_setsp(dill_stk__);\
                dill_enter_();\
                fn;\
                dill_epilogue();\
            }\
            dill_resume_();\
        }\
        dill_handle__;\
    })

/* go(fn(args)) runs fn(args) as a new coroutine on a fresh stack and returns
   a handle (a bundle holding that one coroutine).  hclose on the handle
   cancels the coroutine and waits for it to exit.  Arguments must not be
   function calls; fn must be declared with the coroutine specifier.
   Errors: ECANCELED, ENOMEM. */
#define dill_go(fn) dill_go_(fn, NULL, 0, -1)
/* Like go, but the stack is the caller's memory [ptr, ptr+len). */
#define dill_go_mem(fn, ptr, len) dill_go_(fn, ptr, len, -1)
/* Adds a new coroutine to bundle bndl.  Returns 0 or -1 (EBADF, ENOTSUP,
   ECANCELED, ENOMEM). */
#define dill_bundle_go(bndl, fn) dill_go_(fn, NULL, 0, bndl)
#define dill_bundle_go_mem(bndl, fn, ptr, len) dill_go_(fn, ptr, len, bndl)

struct dill_bundle_storage {char _[64];} __attribute__((aligned(8)));

/* Creates an empty bundle of coroutines. */
DILL_EXPORT int dill_bundle(void);
DILL_EXPORT int dill_bundle_mem(struct dill_bundle_storage *mem);
/* Waits until every coroutine in the bundle has finished.  Errors: EBADF,
   ENOTSUP, ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_bundle_wait(int bndl, int64_t deadline);
/* Lets other ready coroutines run.  Errors: ECANCELED. */
DILL_EXPORT int dill_yield(void);
/* dill extension: coroutines of the calling thread blocked longer than
   threshold ms give their stack pages back (their live stack waits in a
   heap copy and is copied back when they wake); -1 turns it off (the
   default, unless DILL_HIBERNATE=ms is in the environment).  While a
   coroutine hibernates, no other coroutine may use memory on its stack.
   Errors: EINVAL (threshold < -1). */
DILL_EXPORT int dill_hibernate(int64_t threshold);
/* dill extension: how many coroutines of the calling thread hibernate
   now. */
DILL_EXPORT int dill_hibernated(void);
/* dill extension: coroutines that bundle_go starts in the calling thread
   from now on share nslots stacks (0: they get their own, the default
   unless DILL_STACKSHARE=n is in the environment): one is resident in a
   slot at a time, the others wait in heap copies of their live stack.
   The rules of dill_hibernate apply.  Errors: EINVAL (nslots < 0 or
   > 1024), ENOMEM. */
DILL_EXPORT int dill_stackshare(int nslots);
/* dill extension: how many coroutines of the calling thread are out of
   their shared stack (in a copy) now. */
DILL_EXPORT int dill_stackshared(void);

#if !defined DILL_DISABLE_RAW_NAMES
#define coroutine dill_coroutine
#define go dill_go
#define go_mem dill_go_mem
#define bundle_go dill_bundle_go
#define bundle_go_mem dill_bundle_go_mem
#define bundle_storage dill_bundle_storage
#define bundle dill_bundle
#define bundle_mem dill_bundle_mem
#define bundle_wait dill_bundle_wait
#define yield dill_yield
#define hibernate dill_hibernate
#define hibernated dill_hibernated
#define stackshare dill_stackshare
#define stackshared dill_stackshared
#endif

/******************************************************************************/
/*  Channels                                                                  */
/******************************************************************************/

#define DILL_CHSEND 1
#define DILL_CHRECV 2

struct dill_chclause {
    int op;
    int ch;
    void *val;
    size_t len;
};

struct dill_chstorage {char _[144];} __attribute__((aligned(8)));

/* Creates an unbuffered channel; chv[0] and chv[1] are its two ends: what is
   sent to one end is received from the other.  Errors: ECANCELED, ENOMEM. */
DILL_EXPORT int dill_chmake(int chv[2]);
DILL_EXPORT int dill_chmake_mem(struct dill_chstorage *mem, int chv[2]);
/* Rendezvous send and receive; len must equal the receiver's len.  Errors:
   EBADF, ENOTSUP, EINVAL, EMSGSIZE, EPIPE, ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_chsend(int ch, const void *val, size_t len,
    int64_t deadline);
DILL_EXPORT int dill_chrecv(int ch, void *val, size_t len, int64_t deadline);
/* Closes the sending side of ch: later chsend on ch and chrecv on the other
   end fail with EPIPE, and so do those already blocked; the other end can
   still send to ch.  Errors: EBADF, ENOTSUP, EPIPE (already done on ch). */
DILL_EXPORT int dill_chdone(int ch);
/* Performs the first clause that can be performed; returns its index (errno
   0 on success or the clause's error), or -1 (ECANCELED, ETIMEDOUT,
   EINVAL). */
DILL_EXPORT int dill_choose(struct dill_chclause *clauses, int nclauses,
    int64_t deadline);

struct dill_tchan;
/* dill extension: channels between threads.  A tchan is shared by threads;
   each thread opens handles on it (dill_tchopen) and uses them with
   chsend, chrecv, choose, chdone and hclose exactly like chmake's
   handles: an exchange may pair coroutines of different threads, and a
   blocked coroutine sleeps in its own thread's scheduler.
   dill_tchmake creates one holding the caller's reference (NULL with
   ENOMEM). */
DILL_EXPORT struct dill_tchan *dill_tchmake(void);
/* A handle in the calling thread for end 0 or 1 (what is sent on one end
   is received on the other).  Call it while the caller's reference or an
   open handle keeps the tchan alive.  Errors: EINVAL, ECANCELED, ENOMEM,
   EMFILE (no eventfd). */
DILL_EXPORT int dill_tchopen(struct dill_tchan *tc, int end);
/* Drops the creator's reference; the tchan is freed when its last handle
   is closed.  From then on, an end without open handles makes the channel
   done (EPIPE for everyone, as chdone).  Errors: EINVAL. */
DILL_EXPORT int dill_tchrelease(struct dill_tchan *tc);

/* dill extension: starts n threads (0: one per online CPU), each with its
   own scheduler, each running fn(index, arg) as a coroutine, index from 0
   to n - 1.  Returns once every thread runs; hclose of the returned handle
   cancels every fn coroutine (its blocking calls fail with ECANCELED),
   waits for them to return and joins the threads.  fn must close what it
   started before returning.  Errors: EINVAL, ECANCELED, ENOMEM, EAGAIN
   (no thread). */
DILL_EXPORT int dill_workers_start(int n, void (*fn)(int index, void *arg),
    void *arg);

#if !defined DILL_DISABLE_RAW_NAMES
#define CHSEND DILL_CHSEND
#define CHRECV DILL_CHRECV
#define chclause dill_chclause
#define chstorage dill_chstorage
#define chmake dill_chmake
#define chmake_mem dill_chmake_mem
#define tchan dill_tchan
#define tchmake dill_tchmake
#define tchopen dill_tchopen
#define tchrelease dill_tchrelease
#define workers_start dill_workers_start
#define chsend dill_chsend
#define chrecv dill_chrecv
#define chdone dill_chdone
#define choose dill_choose
#endif

#if !defined DILL_DISABLE_SOCKETS

/******************************************************************************/
/*  Gather/scatter lists                                                      */
/******************************************************************************/

/* A chain of buffers.  iol_rsvd must be 0.  A NULL iol_base on receive means
   "skip iol_len bytes". */
struct dill_iolist {
    void *iol_base;
    size_t iol_len;
    struct dill_iolist *iol_next;
    int iol_rsvd;
};

#if !defined DILL_DISABLE_RAW_NAMES
#define iolist dill_iolist
#endif

/******************************************************************************/
/*  Bytestream sockets                                                        */
/******************************************************************************/

/* Sends all len bytes or fails.  Errors: EBADF, ENOTSUP, EINVAL, ECONNRESET,
   EPIPE, ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_bsend(int s, const void *buf, size_t len,
    int64_t deadline);
/* Receives exactly len bytes or fails (buf NULL skips them).  Errors: EBADF,
   ENOTSUP, EINVAL, ECONNRESET, EPIPE (peer closed), ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_brecv(int s, void *buf, size_t len, int64_t deadline);
DILL_EXPORT int dill_bsendl(int s, struct dill_iolist *first,
    struct dill_iolist *last, int64_t deadline);
DILL_EXPORT int dill_brecvl(int s, struct dill_iolist *first,
    struct dill_iolist *last, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define bsend dill_bsend
#define brecv dill_brecv
#define bsendl dill_bsendl
#define brecvl dill_brecvl
#endif

/******************************************************************************/
/*  Message sockets                                                           */
/******************************************************************************/

/* Sends one message.  Errors: EBADF, ENOTSUP, EINVAL, EMSGSIZE, EPIPE,
   ECONNRESET, ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_msend(int s, const void *buf, size_t len,
    int64_t deadline);
/* Receives one message; returns its size.  EMSGSIZE if it does not fit. */
DILL_EXPORT ssize_t dill_mrecv(int s, void *buf, size_t len, int64_t deadline);
DILL_EXPORT int dill_msendl(int s, struct dill_iolist *first,
    struct dill_iolist *last, int64_t deadline);
DILL_EXPORT ssize_t dill_mrecvl(int s, struct dill_iolist *first,
    struct dill_iolist *last, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define msend dill_msend
#define mrecv dill_mrecv
#define msendl dill_msendl
#define mrecvl dill_mrecvl
#endif

/******************************************************************************/
/*  IP addresses                                                              */
/******************************************************************************/

struct sockaddr;

#define DILL_IPADDR_IPV4 1
#define DILL_IPADDR_IPV6 2
#define DILL_IPADDR_PREF_IPV4 3
#define DILL_IPADDR_PREF_IPV6 4
#define DILL_IPADDR_MAXSTRLEN 46

struct dill_ipaddr {char _[32];} __attribute__((aligned(4)));

/* Local address for binding; name is an interface address literal, or NULL
   for "any".  Errors: EINVAL, ENODEV. */
DILL_EXPORT int dill_ipaddr_local(struct dill_ipaddr *addr, const char *name,
    int port, int mode);
/* Resolves a remote name without blocking other coroutines.  Errors: EINVAL,
   EADDRNOTAVAIL (no such name), ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_ipaddr_remote(struct dill_ipaddr *addr, const char *name,
    int port, int mode, int64_t deadline);
/* Like ipaddr_remote, but fills up to naddrs addresses; returns how many. */
DILL_EXPORT int dill_ipaddr_remotes(struct dill_ipaddr *addrs, int naddrs,
    const char *name, int port, int mode, int64_t deadline);
/* Formats the address (no port) into ipstr of IPADDR_MAXSTRLEN bytes. */
DILL_EXPORT const char *dill_ipaddr_str(const struct dill_ipaddr *addr,
    char *ipstr);
/* AF_INET or AF_INET6. */
DILL_EXPORT int dill_ipaddr_family(const struct dill_ipaddr *addr);
DILL_EXPORT const struct sockaddr *dill_ipaddr_sockaddr(
    const struct dill_ipaddr *addr);
DILL_EXPORT int dill_ipaddr_len(const struct dill_ipaddr *addr);
DILL_EXPORT int dill_ipaddr_port(const struct dill_ipaddr *addr);
DILL_EXPORT void dill_ipaddr_setport(struct dill_ipaddr *addr, int port);
/* 1 if equal, 0 if not; ports are ignored when ignore_port is set. */
DILL_EXPORT int dill_ipaddr_equal(const struct dill_ipaddr *addr1,
    const struct dill_ipaddr *addr2, int ignore_port);

#if !defined DILL_DISABLE_RAW_NAMES
#define IPADDR_IPV4 DILL_IPADDR_IPV4
#define IPADDR_IPV6 DILL_IPADDR_IPV6
#define IPADDR_PREF_IPV4 DILL_IPADDR_PREF_IPV4
#define IPADDR_PREF_IPV6 DILL_IPADDR_PREF_IPV6
#define IPADDR_MAXSTRLEN DILL_IPADDR_MAXSTRLEN
#define ipaddr dill_ipaddr
#define ipaddr_local dill_ipaddr_local
#define ipaddr_remote dill_ipaddr_remote
#define ipaddr_remotes dill_ipaddr_remotes
#define ipaddr_str dill_ipaddr_str
#define ipaddr_family dill_ipaddr_family
#define ipaddr_sockaddr dill_ipaddr_sockaddr
#define ipaddr_len dill_ipaddr_len
#define ipaddr_port dill_ipaddr_port
#define ipaddr_setport dill_ipaddr_setport
#define ipaddr_equal dill_ipaddr_equal
#endif

/******************************************************************************/
/*  TCP                                                                       */
/******************************************************************************/

struct dill_tcp_listener_storage {char _[56];} __attribute__((aligned(8)));
struct dill_tcp_storage {char _[72];} __attribute__((aligned(8)));

/* Listens on addr.  When addr's port is 0 the kernel picks one and it is
   written back into addr.  Errors: EADDRINUSE, EINVAL, EMFILE, ENOMEM... */
DILL_EXPORT int dill_tcp_listen(struct dill_ipaddr *addr, int backlog);
/* dill extension: tcp_listen with SO_REUSEPORT, so that listeners of
   several threads (or processes) share the address and the kernel spreads
   incoming connections over them.  With port 0 the picked port is written
   back into addr: pass that addr to the other listeners.  Errors: as
   tcp_listen. */
DILL_EXPORT int dill_tcp_listen_reuseport(struct dill_ipaddr *addr,
    int backlog);
DILL_EXPORT int dill_tcp_listen_mem(struct dill_ipaddr *addr, int backlog,
    struct dill_tcp_listener_storage *mem);
/* Accepts a connection; addr (may be NULL) receives the peer's address. */
DILL_EXPORT int dill_tcp_accept(int s, struct dill_ipaddr *addr,
    int64_t deadline);
DILL_EXPORT int dill_tcp_accept_mem(int s, struct dill_ipaddr *addr,
    struct dill_tcp_storage *mem, int64_t deadline);
DILL_EXPORT int dill_tcp_connect(const struct dill_ipaddr *addr,
    int64_t deadline);
DILL_EXPORT int dill_tcp_connect_mem(const struct dill_ipaddr *addr,
    struct dill_tcp_storage *mem, int64_t deadline);
/* Half-closes: later sends fail with EPIPE; receiving still works. */
DILL_EXPORT int dill_tcp_done(int s, int64_t deadline);
/* Graceful close: half-close, drain until the peer closes, then close. */
DILL_EXPORT int dill_tcp_close(int s, int64_t deadline);
DILL_EXPORT int dill_tcp_listener_fromfd(int fd);
DILL_EXPORT int dill_tcp_listener_fromfd_mem(int fd,
    struct dill_tcp_listener_storage *mem);
DILL_EXPORT int dill_tcp_fromfd(int fd);
DILL_EXPORT int dill_tcp_fromfd_mem(int fd, struct dill_tcp_storage *mem);
/* dill extension: the local address of a tcp listener or connection (use it
   to learn the port picked for port 0). */
DILL_EXPORT int dill_tcp_localaddr(int s, struct dill_ipaddr *addr);

/* Connects to name:port the Happy Eyeballs way (RFC 8305): IPv6 and IPv4
   names are resolved in parallel and connection attempts alternate between
   the families, IPv6 first, each new attempt 300 ms after the previous one
   unless that one failed sooner; earlier attempts go on, and the first to
   succeed wins.  Errors: EINVAL, EADDRNOTAVAIL (no address), ECONNREFUSED
   (and other connect errors of the last attempt), ENOMEM, ECANCELED,
   ETIMEDOUT. */
DILL_EXPORT int dill_happyeyeballs_connect(const char *name, int port,
    int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define happyeyeballs_connect dill_happyeyeballs_connect
#define tcp_listener_storage dill_tcp_listener_storage
#define tcp_storage dill_tcp_storage
#define tcp_listen dill_tcp_listen
#define tcp_listen_reuseport dill_tcp_listen_reuseport
#define tcp_listen_mem dill_tcp_listen_mem
#define tcp_accept dill_tcp_accept
#define tcp_accept_mem dill_tcp_accept_mem
#define tcp_connect dill_tcp_connect
#define tcp_connect_mem dill_tcp_connect_mem
#define tcp_done dill_tcp_done
#define tcp_close dill_tcp_close
#define tcp_listener_fromfd dill_tcp_listener_fromfd
#define tcp_listener_fromfd_mem dill_tcp_listener_fromfd_mem
#define tcp_fromfd dill_tcp_fromfd
#define tcp_fromfd_mem dill_tcp_fromfd_mem
#define tcp_localaddr dill_tcp_localaddr
#endif

/******************************************************************************/
/*  IPC (UNIX domain sockets)                                                 */
/******************************************************************************/

struct dill_ipc_listener_storage {char _[24];} __attribute__((aligned(8)));
struct dill_ipc_storage {char _[72];} __attribute__((aligned(8)));
struct dill_ipc_pair_storage {char _[144];} __attribute__((aligned(8)));

/* Listens on the UNIX socket path addr (the file must not exist) with the
   given backlog; returns a listener handle (mem: caller's storage).
   Errors: EACCES, EADDRINUSE, EINVAL, ELOOP, EMFILE, ENAMETOOLONG, ENFILE,
   ENOENT, ENOMEM, ENOTDIR. */
DILL_EXPORT int dill_ipc_listen(const char *addr, int backlog);
DILL_EXPORT int dill_ipc_listen_mem(const char *addr, int backlog,
    struct dill_ipc_listener_storage *mem);
/* Waits for a connection on listener s and returns it as a bytestream
   handle.  Errors: EBADF, EBUSY, ECANCELED, EMFILE, ENFILE, ENOMEM,
   ENOTSUP, ETIMEDOUT. */
DILL_EXPORT int dill_ipc_accept(int s, int64_t deadline);
DILL_EXPORT int dill_ipc_accept_mem(int s, struct dill_ipc_storage *mem,
    int64_t deadline);
/* Connects to the UNIX socket path addr; returns a bytestream handle.
   Errors: EACCES, ECANCELED, ECONNREFUSED, ECONNRESET, EINVAL, ELOOP,
   EMFILE, ENAMETOOLONG, ENFILE, ENOENT, ENOMEM, ENOTDIR, ETIMEDOUT. */
DILL_EXPORT int dill_ipc_connect(const char *addr, int64_t deadline);
DILL_EXPORT int dill_ipc_connect_mem(const char *addr,
    struct dill_ipc_storage *mem, int64_t deadline);
/* Passes a file descriptor to the peer / receives one. */
DILL_EXPORT int dill_ipc_sendfd(int s, int fd, int64_t deadline);
DILL_EXPORT int dill_ipc_recvfd(int s, int64_t deadline);
DILL_EXPORT int dill_ipc_done(int s, int64_t deadline);
DILL_EXPORT int dill_ipc_close(int s, int64_t deadline);
DILL_EXPORT int dill_ipc_listener_fromfd(int fd);
DILL_EXPORT int dill_ipc_listener_fromfd_mem(int fd,
    struct dill_ipc_listener_storage *mem);
DILL_EXPORT int dill_ipc_fromfd(int fd);
DILL_EXPORT int dill_ipc_fromfd_mem(int fd, struct dill_ipc_storage *mem);
/* A connected pair of ipc sockets. */
DILL_EXPORT int dill_ipc_pair(int s[2]);
DILL_EXPORT int dill_ipc_pair_mem(struct dill_ipc_pair_storage *mem, int s[2]);

#if !defined DILL_DISABLE_RAW_NAMES
#define ipc_listener_storage dill_ipc_listener_storage
#define ipc_storage dill_ipc_storage
#define ipc_pair_storage dill_ipc_pair_storage
#define ipc_listen dill_ipc_listen
#define ipc_listen_mem dill_ipc_listen_mem
#define ipc_accept dill_ipc_accept
#define ipc_accept_mem dill_ipc_accept_mem
#define ipc_connect dill_ipc_connect
#define ipc_connect_mem dill_ipc_connect_mem
#define ipc_sendfd dill_ipc_sendfd
#define ipc_recvfd dill_ipc_recvfd
#define ipc_done dill_ipc_done
#define ipc_close dill_ipc_close
#define ipc_listener_fromfd dill_ipc_listener_fromfd
#define ipc_listener_fromfd_mem dill_ipc_listener_fromfd_mem
#define ipc_fromfd dill_ipc_fromfd
#define ipc_fromfd_mem dill_ipc_fromfd_mem
#define ipc_pair dill_ipc_pair
#define ipc_pair_mem dill_ipc_pair_mem
#endif

/******************************************************************************/
/*  UDP                                                                       */
/******************************************************************************/

struct dill_udp_storage {char _[72];} __attribute__((aligned(8)));

/* Opens a UDP socket bound to local (port 0: picked and written back);
   remote, if not NULL, is the default destination for msend. */
DILL_EXPORT int dill_udp_open(struct dill_ipaddr *local,
    const struct dill_ipaddr *remote);
DILL_EXPORT int dill_udp_open_mem(struct dill_ipaddr *local,
    const struct dill_ipaddr *remote, struct dill_udp_storage *mem);
DILL_EXPORT int dill_udp_send(int s, const struct dill_ipaddr *addr,
    const void *buf, size_t len);
DILL_EXPORT ssize_t dill_udp_recv(int s, struct dill_ipaddr *addr, void *buf,
    size_t len, int64_t deadline);
DILL_EXPORT int dill_udp_sendl(int s, const struct dill_ipaddr *addr,
    struct dill_iolist *first, struct dill_iolist *last);
DILL_EXPORT ssize_t dill_udp_recvl(int s, struct dill_ipaddr *addr,
    struct dill_iolist *first, struct dill_iolist *last, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define udp_storage dill_udp_storage
#define udp_open dill_udp_open
#define udp_open_mem dill_udp_open_mem
#define udp_send dill_udp_send
#define udp_recv dill_udp_recv
#define udp_sendl dill_udp_sendl
#define udp_recvl dill_udp_recvl
#endif

/******************************************************************************/
/*  HTTP/1.1 (request and status lines plus header fields)                    */
/******************************************************************************/

struct dill_http_storage {char _[1296];} __attribute__((aligned(8)));

/* Starts speaking HTTP/1.1 over the bytestream socket s, which the new
   handle owns (mem: caller's storage).  s is closed on failure.  Errors:
   EBADF, ECANCELED, ENOMEM, ENOTSUP. */
DILL_EXPORT int dill_http_attach(int s);
DILL_EXPORT int dill_http_attach_mem(int s, struct dill_http_storage *mem);
/* Ends the head being sent (the empty line).  Errors: EBADF, ECANCELED,
   ECONNRESET, ENOTSUP, EPIPE, ETIMEDOUT. */
DILL_EXPORT int dill_http_done(int s, int64_t deadline);
/* Stops speaking HTTP and returns the underlying socket; bytes received
   past the head stay readable on it.  Errors: those of http_done plus
   EMSGSIZE, EPROTO. */
DILL_EXPORT int dill_http_detach(int s, int64_t deadline);
/* Sends a request line "command resource HTTP/1.1".  Errors: EBADF,
   ECANCELED, ECONNRESET, EINVAL (characters not allowed in a request
   line), ENOTSUP, EPIPE, ETIMEDOUT. */
DILL_EXPORT int dill_http_sendrequest(int s, const char *command,
    const char *resource, int64_t deadline);
/* Receives a request line into command and resource (NUL-terminated).
   Errors: those of http_sendrequest plus EMSGSIZE (does not fit), EPROTO
   (malformed). */
DILL_EXPORT int dill_http_recvrequest(int s, char *command, size_t commandlen,
    char *resource, size_t resourcelen, int64_t deadline);
/* Sends a status line "HTTP/1.1 status reason" (status 100..599).
   Errors: as http_sendrequest. */
DILL_EXPORT int dill_http_sendstatus(int s, int status, const char *reason,
    int64_t deadline);
/* Receives a status line; returns the status code and copies the reason
   phrase into reason.  Errors: as http_recvrequest. */
DILL_EXPORT int dill_http_recvstatus(int s, char *reason, size_t reasonlen,
    int64_t deadline);
/* Sends a header field "name: value".  Errors: as http_sendrequest. */
DILL_EXPORT int dill_http_sendfield(int s, const char *name, const char *value,
    int64_t deadline);
/* Receives the next header field into name and value (value trimmed of
   surrounding whitespace).  Fails with EPIPE at the end of the head.
   Errors: as http_recvrequest. */
DILL_EXPORT int dill_http_recvfield(int s, char *name, size_t namelen,
    char *value, size_t valuelen, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define http_storage dill_http_storage
#define http_attach dill_http_attach
#define http_attach_mem dill_http_attach_mem
#define http_done dill_http_done
#define http_detach dill_http_detach
#define http_sendrequest dill_http_sendrequest
#define http_recvrequest dill_http_recvrequest
#define http_sendstatus dill_http_sendstatus
#define http_recvstatus dill_http_recvstatus
#define http_sendfield dill_http_sendfield
#define http_recvfield dill_http_recvfield
#endif

/******************************************************************************/
/*  PREFIX: messages preceded by their size, over a bytestream socket         */
/******************************************************************************/

struct dill_prefix_storage {char _[56];} __attribute__((aligned(8)));

#define DILL_PREFIX_BIG_ENDIAN 0
#define DILL_PREFIX_LITTLE_ENDIAN 1

/* Turns bytestream s into a message socket whose messages are preceded by
   their size in hdrlen (1 to 8) bytes, most significant first unless flags
   is PREFIX_LITTLE_ENDIAN.  s is owned by the new handle (closed with it,
   and on failure).  Errors: EBADF, EINVAL, ENOMEM, EPROTO (s is not a
   bytestream). */
DILL_EXPORT int dill_prefix_attach(int s, size_t hdrlen, int flags);
DILL_EXPORT int dill_prefix_attach_mem(int s, size_t hdrlen, int flags,
    struct dill_prefix_storage *mem);
/* Hands back the bytestream socket at once (no bytes are exchanged).
   Errors: EBADF, ENOTSUP, ECONNRESET (an earlier failure left the stream
   in the middle of a message; everything is closed then). */
DILL_EXPORT int dill_prefix_detach(int s);

#if !defined DILL_DISABLE_RAW_NAMES
#define PREFIX_BIG_ENDIAN DILL_PREFIX_BIG_ENDIAN
#define PREFIX_LITTLE_ENDIAN DILL_PREFIX_LITTLE_ENDIAN
#define prefix_storage dill_prefix_storage
#define prefix_attach dill_prefix_attach
#define prefix_attach_mem dill_prefix_attach_mem
#define prefix_detach dill_prefix_detach
#endif

/******************************************************************************/
/*  SUFFIX: messages ended by a delimiter, over a bytestream socket           */
/******************************************************************************/

struct dill_suffix_storage {char _[128];} __attribute__((aligned(8)));

/* Turns bytestream s into a message socket whose messages end with the
   suffixlen (1 to 32) bytes of suffix, such as "\r\n".  s is owned by the
   new handle.  Errors: EBADF, EINVAL, ENOMEM, EPROTO. */
DILL_EXPORT int dill_suffix_attach(int s, const void *suffix,
    size_t suffixlen);
DILL_EXPORT int dill_suffix_attach_mem(int s, const void *suffix,
    size_t suffixlen, struct dill_suffix_storage *mem);
/* Hands back the bytestream socket at once.  Errors: EBADF, ENOTSUP,
   ECONNRESET (as prefix_detach). */
DILL_EXPORT int dill_suffix_detach(int s, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define suffix_storage dill_suffix_storage
#define suffix_attach dill_suffix_attach
#define suffix_attach_mem dill_suffix_attach_mem
#define suffix_detach dill_suffix_detach
#endif

/******************************************************************************/
/*  TERM: a terminal handshake over a message socket                          */
/******************************************************************************/

struct dill_term_storage {char _[88];} __attribute__((aligned(8)));

/* Layers a terminal handshake over message socket s: the terminal message
   buf (len 0 to 32 bytes) marks the end of each side's messages.  s is
   owned by the new handle.  Errors: EBADF, EINVAL, ENOMEM, EPROTO (s is not
   a message socket). */
DILL_EXPORT int dill_term_attach(int s, const void *buf, size_t len);
DILL_EXPORT int dill_term_attach_mem(int s, const void *buf, size_t len,
    struct dill_term_storage *mem);
/* Sends the terminal message: later msend fails with EPIPE, receiving goes
   on.  Errors: EBADF, ENOTSUP, EPIPE (already sent), plus those of msend. */
DILL_EXPORT int dill_term_done(int s, int64_t deadline);
/* Sends the terminal message unless already sent, drops incoming messages
   until the peer's terminal message, and returns the message socket below.
   On failure everything is closed.  Errors: EBADF, ENOTSUP, ECONNRESET,
   ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_term_detach(int s, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define term_storage dill_term_storage
#define term_attach dill_term_attach
#define term_attach_mem dill_term_attach_mem
#define term_done dill_term_done
#define term_detach dill_term_detach
#endif

#if !defined DILL_DISABLE_TLS

/******************************************************************************/
/*  TLS (OpenSSL)                                                             */
/******************************************************************************/

/* A TLS connection is a bytestream socket on top of another bytestream
   socket (tcp, ipc or any bsock).  bsend fails with EPIPE after tls_done;
   brecv fails with EPIPE after the peer's close_notify and with ECONNRESET
   when the connection ends without one (truncation). */
struct dill_tls_storage {char _[72];} __attribute__((aligned(8)));

/* Client side of a TLS connection over s (which is taken over: on any
   failure it is closed).  The peer is NOT authenticated: no certificate or
   name is checked; use dill_tls_attach_client_opts for that.  Errors:
   EBADF, EPROTO (s is not a bytestream, or the peer does not speak TLS),
   ECONNRESET, ENOMEM, ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_tls_attach_client(int s, int64_t deadline);
DILL_EXPORT int dill_tls_attach_client_mem(int s, struct dill_tls_storage *mem,
    int64_t deadline);
/* Server side over s with the PEM certificate chain and private key read
   from the named files (cached per file names; reloaded when the files
   change).  s is closed on failure.  Errors as for tls_attach_client plus
   EINVAL (unusable certificate or key), ENOENT/EACCES (cannot read a
   file). */
DILL_EXPORT int dill_tls_attach_server(int s, const char *cert,
    const char *pkey, int64_t deadline);
DILL_EXPORT int dill_tls_attach_server_mem(int s, const char *cert,
    const char *pkey, struct dill_tls_storage *mem, int64_t deadline);
/* Sends close_notify; later sends fail with EPIPE, receiving still works.
   Errors: EBADF, ENOTSUP, EPIPE (already done), ECONNRESET, ECANCELED,
   ETIMEDOUT. */
DILL_EXPORT int dill_tls_done(int s, int64_t deadline);
/* Terminal handshake both ways (data still arriving is discarded), then
   returns the underlying socket.  On failure everything is closed.
   Errors: EBADF, ENOTSUP, ECONNRESET, EPROTO, ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_tls_detach(int s, int64_t deadline);

/* dill extension: protocol versions for min_version (0 means 1.2). */
#define DILL_TLS_VERSION_1_2 0x0303
#define DILL_TLS_VERSION_1_3 0x0304

/* dill extension: option structures.  Every one of them starts with
   `size_t size`, which must hold sizeof the structure the program was
   compiled with: initialise it with its *_OPTIONS_INIT macro, then set the
   fields needed, e.g.
       struct dill_tls_client_options o = DILL_TLS_CLIENT_OPTIONS_INIT;
   The library reads only the first `size` bytes and takes every later
   field as zero, so a program built against an older header keeps working
   when fields are added (they are only ever appended, and zero always means
   the default).  A size smaller than sizeof(size_t), or a larger structure
   than the library knows whose unknown tail is not all zero, fails with
   EINVAL.  A NULL pointer means every default.  Lists of strings are
   NULL-terminated arrays. */

/* dill extension: client settings.  Set what is needed.  Unless insecure_skip_verify is set, the server's chain must
   lead to a trusted CA (ca_file and/or ca_dir, else the system store), and
   when server_name is set the certificate must match it (a DNS name, also
   sent as SNI, or an IP address literal).  alpn is a NULL-terminated list
   of protocol names in preference order. */
struct dill_tls_client_options {
    size_t size;               /* DILL_TLS_CLIENT_OPTIONS_INIT sets it */
    const char *server_name;
    const char *ca_file;
    const char *ca_dir;
    const char *cert_file;     /* client certificate chain (PEM) */
    const char *key_file;      /* its private key (PEM) */
    const char *const *alpn;
    int min_version;
    int insecure_skip_verify;
    /* PEM text (NUL-terminated) instead of files: trusted CAs (added to
       ca_file/ca_dir), the client certificate chain and its key.  A
       configuration with any of them is not cached between calls. */
    const char *ca_pem;
    const char *cert_pem;
    const char *key_pem;
};
#define DILL_TLS_CLIENT_OPTIONS_INIT {sizeof(struct dill_tls_client_options)}

/* dill extension: client side with verification.  opts and mem may be
   NULL (opts NULL: verify against the system store, no SNI).  s is
   closed on any failure.  Errors: as tls_attach_client plus EACCES (the
   server's certificate failed verification, or the server refused ours),
   EINVAL (bad options), ENOENT (a file is missing). */
DILL_EXPORT int dill_tls_attach_client_opts(int s,
    const struct dill_tls_client_options *opts, struct dill_tls_storage *mem,
    int64_t deadline);

#define DILL_TLS_CLIENT_AUTH_NONE 0
#define DILL_TLS_CLIENT_AUTH_REQUEST 1
#define DILL_TLS_CLIENT_AUTH_REQUIRE 2

/* dill extension: server settings.  The certificate chain and key come
   from files (cert_file, key_file) or from PEM text in memory (cert_pem,
   key_pem, NUL-terminated).  client_auth asks for (REQUEST) or insists on
   (REQUIRE) a client certificate issued by a CA of client_ca_file or
   client_ca_pem.  alpn lists the accepted protocols in server preference;
   a client offering none of them is refused. */
struct dill_tls_server_options {
    size_t size;               /* DILL_TLS_SERVER_OPTIONS_INIT sets it */
    const char *cert_file;
    const char *key_file;
    const char *cert_pem;
    const char *key_pem;
    const char *const *alpn;
    int min_version;
    int client_auth;
    const char *client_ca_file;
    const char *client_ca_pem;
};
#define DILL_TLS_SERVER_OPTIONS_INIT {sizeof(struct dill_tls_server_options)}

/* dill extension: a reusable server configuration (files are read once).
   Thread-safe; may be freed while connections made from it are open. */
struct dill_tls_server_ctx;

/* Returns NULL with errno: EINVAL (bad options, certificate, key or CA),
   ENOENT/EACCES (cannot read a file), ENOMEM. */
DILL_EXPORT struct dill_tls_server_ctx *dill_tls_server_ctx_new(
    const struct dill_tls_server_options *opts);
DILL_EXPORT void dill_tls_server_ctx_free(struct dill_tls_server_ctx *ctx);
/* Several certificates on one server: a client whose SNI names name (a
   host name, or "*.example.com" for any one label in front of
   example.com; case-insensitive) is served with other's certificate and
   key instead of ctx's, which stay the default.  ctx takes a reference to
   other.  Call it before ctx is used.  Errors: EINVAL (bad name), ENOMEM. */
DILL_EXPORT int dill_tls_server_ctx_sni(struct dill_tls_server_ctx *ctx,
    const char *name, struct dill_tls_server_ctx *other);
/* Server side of a TLS connection over s using ctx.  mem may be NULL.  s
   is closed on any failure.  Errors as for tls_attach_server. */
DILL_EXPORT int dill_tls_attach_server_ctx(int s,
    struct dill_tls_server_ctx *ctx, struct dill_tls_storage *mem,
    int64_t deadline);
/* Copies the negotiated ALPN protocol, NUL-terminated, into buf; returns
   its length, 0 when none was agreed.  Errors: EBADF, ENOTSUP,
   EMSGSIZE. */
DILL_EXPORT ssize_t dill_tls_alpn(int s, char *buf, size_t len);
/* Copies to buf (NUL-terminated) why the last TLS operation (handshake,
   send, receive, close) that failed in the calling thread failed, e.g.
   "certificate verification failed: hostname mismatch" or "tlsv1 alert
   unknown ca"; returns its length, 0 (and "") when no TLS operation has
   failed in this thread.  Read it right after the
   failing call, before blocking: another coroutine's failure replaces it.
   Errors: EINVAL (buf NULL with len > 0), EMSGSIZE (does not fit). */
DILL_EXPORT ssize_t dill_tls_last_error(char *buf, size_t len);

#if !defined DILL_DISABLE_RAW_NAMES
#define tls_storage dill_tls_storage
#define tls_attach_client dill_tls_attach_client
#define tls_attach_client_mem dill_tls_attach_client_mem
#define tls_attach_server dill_tls_attach_server
#define tls_attach_server_mem dill_tls_attach_server_mem
#define tls_done dill_tls_done
#define tls_detach dill_tls_detach
#define TLS_VERSION_1_2 DILL_TLS_VERSION_1_2
#define TLS_VERSION_1_3 DILL_TLS_VERSION_1_3
#define TLS_CLIENT_AUTH_NONE DILL_TLS_CLIENT_AUTH_NONE
#define TLS_CLIENT_AUTH_REQUEST DILL_TLS_CLIENT_AUTH_REQUEST
#define TLS_CLIENT_AUTH_REQUIRE DILL_TLS_CLIENT_AUTH_REQUIRE
#define tls_client_options dill_tls_client_options
#define TLS_CLIENT_OPTIONS_INIT DILL_TLS_CLIENT_OPTIONS_INIT
#define TLS_SERVER_OPTIONS_INIT DILL_TLS_SERVER_OPTIONS_INIT
#define tls_attach_client_opts dill_tls_attach_client_opts
#define tls_server_options dill_tls_server_options
#define tls_server_ctx dill_tls_server_ctx
#define tls_server_ctx_new dill_tls_server_ctx_new
#define tls_server_ctx_free dill_tls_server_ctx_free
#define tls_server_ctx_sni dill_tls_server_ctx_sni
#define tls_attach_server_ctx dill_tls_attach_server_ctx
#define tls_alpn dill_tls_alpn
#define tls_last_error dill_tls_last_error
#endif

/******************************************************************************/
/*  DTLS (OpenSSL) over a message socket                                      */
/******************************************************************************/

struct dill_dtls_storage {char _[88];} __attribute__((aligned(8)));

/* DTLS 1.2 over message socket s (usually UDP opened with a remote): one
   message of the DTLS socket is one record.  The server uses the PEM
   certificate chain and key files; the client does not check the server's
   certificate.  s is closed on failure.  Errors: EBADF, EPROTO (s is not a
   message socket), EINVAL (bad certificate or key), ENOENT/EACCES (cannot
   read a file), ECONNRESET (handshake failed), ENOMEM, ECANCELED,
   ETIMEDOUT. */
DILL_EXPORT int dill_dtls_attach_server(int s, const char *cert,
    const char *pkey, int64_t deadline);
DILL_EXPORT int dill_dtls_attach_server_mem(int s, const char *cert,
    const char *pkey, struct dill_dtls_storage *mem, int64_t deadline);
DILL_EXPORT int dill_dtls_attach_client(int s, int64_t deadline);
DILL_EXPORT int dill_dtls_attach_client_mem(int s,
    struct dill_dtls_storage *mem, int64_t deadline);
/* Sends close_notify: later sends fail with EPIPE, receiving goes on.
   Errors: EBADF, ENOTSUP, EPIPE (already done), ECONNRESET. */
DILL_EXPORT int dill_dtls_done(int s, int64_t deadline);
/* Sends close_notify unless sent, drops records until the peer's, then
   returns the message socket below.  Everything is closed on failure.
   Errors: EBADF, ENOTSUP, ECONNRESET, ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_dtls_detach(int s, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define dtls_storage dill_dtls_storage
#define dtls_attach_server dill_dtls_attach_server
#define dtls_attach_server_mem dill_dtls_attach_server_mem
#define dtls_attach_client dill_dtls_attach_client
#define dtls_attach_client_mem dill_dtls_attach_client_mem
#define dtls_done dill_dtls_done
#define dtls_detach dill_dtls_detach
#endif

#endif /* !DILL_DISABLE_TLS */

/******************************************************************************/
/*  WebSocket (RFC 6455)                                                      */
/******************************************************************************/

struct dill_ws_storage {char _[176];} __attribute__((aligned(8)));

#define DILL_WS_BINARY 0
#define DILL_WS_TEXT 1
#define DILL_WS_NOHTTP 2

/* Starts the client side of a WebSocket over the bytestream socket s
   (owned by the new handle; closed on failure): sends the opening request
   for resource with Host host and checks the 101 response.  flags:
   WS_TEXT (msend/mrecv carry text) and WS_NOHTTP (no handshake; resource
   and host ignored).  mem: caller's storage.  Errors: EBADF, ECANCELED,
   ECONNRESET, EINVAL, ENOMEM, ENOTSUP, EPIPE, EPROTO (bad response),
   ETIMEDOUT. */
DILL_EXPORT int dill_ws_attach_client(int s, int flags, const char *resource,
    const char *host, int64_t deadline);
DILL_EXPORT int dill_ws_attach_client_mem(int s, int flags,
    const char *resource, const char *host, struct dill_ws_storage *mem,
    int64_t deadline);
/* Starts the server side of a WebSocket over s (owned; closed on
   failure): receives and checks the opening request, copies its target to
   resource and its Host to host, and answers 101 (or an HTTP error).
   Errors: as ws_attach_client plus EMSGSIZE (resource or host does not
   fit; the client got 414 or 400). */
DILL_EXPORT int dill_ws_attach_server(int s, int flags, char *resource,
    size_t resourcelen, char *host, size_t hostlen, int64_t deadline);
DILL_EXPORT int dill_ws_attach_server_mem(int s, int flags, char *resource,
    size_t resourcelen, char *host, size_t hostlen,
    struct dill_ws_storage *mem, int64_t deadline);
/* Sends one message of type flags (WS_TEXT or WS_BINARY; text must be
   valid UTF-8).  Small messages may be gathered and written when the
   coroutine next blocks (see ws_send(3)).  Errors: EBADF, ECANCELED,
   ECONNRESET, EINVAL, ENOTSUP, EPIPE (closing), ETIMEDOUT. */
DILL_EXPORT int dill_ws_send(int s, int flags, const void *buf, size_t len,
    int64_t deadline);
/* Receives one whole message into buf and returns its size; *flags gets
   its type (WS_TEXT or WS_BINARY; flags may not be NULL: EINVAL).  Pings are answered on the way.  Errors: EBADF,
   EBUSY (another coroutine is receiving), ECANCELED, ECONNRESET, EINVAL,
   EMSGSIZE (does not fit buf or max_message; the connection fails with
   1009), ENOTSUP, EPIPE (the peer closed: ws_status tells why), EPROTO
   (protocol violation; the connection failed with 1002/1007), ETIMEDOUT. */
DILL_EXPORT ssize_t dill_ws_recv(int s, int *flags, void *buf, size_t len,
    int64_t deadline);
/* ws_send and ws_recv with the payload in an iolist. */
DILL_EXPORT int dill_ws_sendl(int s, int flags, struct dill_iolist *first,
    struct dill_iolist *last, int64_t deadline);
DILL_EXPORT ssize_t dill_ws_recvl(int s, int *flags, struct dill_iolist *first,
    struct dill_iolist *last, int64_t deadline);
/* Sends our Close frame with status (0: none; else 1000..4999 minus the
   reserved codes) and a reason of len <= 123 bytes: a half-close, as in
   libdill.  Later sends fail with EPIPE, receiving goes on until the peer's
   Close.  After the peer's Close (receiving calls fail with EPIPE) this
   side may still send until it calls ws_done, ws_detach or hclose, which
   answer it.  Errors: EBADF, ECANCELED, ECONNRESET, EINVAL, ENOTSUP, EPIPE
   (already sent), ETIMEDOUT. */
DILL_EXPORT int dill_ws_done(int s, int status, const void *buf, size_t len,
    int64_t deadline);
/* Completes the closing handshake (sending our Close as ws_done does unless
   sent, then dropping messages until the peer's), frees the WebSocket and
   returns the underlying socket at once, with any bytes read past the
   peer's Close handed back to it (tcp and ipc).  Everything is closed on
   failure.  Errors: those of ws_done plus EPROTO, ENOBUFS, ENOTSUP (bytes
   to hand back to another kind of socket). */
DILL_EXPORT int dill_ws_detach(int s, int status, const void *buf, size_t len,
    int64_t deadline);
/* After the peer's Close frame: *status gets its code (0: none) and buf
   its reason; returns the reason's length.  Errors: EAGAIN (no Close frame
   received yet), EBADF, EINVAL, EMSGSIZE, ENOTSUP. */
DILL_EXPORT ssize_t dill_ws_status(int s, int *status, void *buf, size_t len);

#define DILL_WS_KEY_SIZE 32

/* Writes a random Sec-WebSocket-Key (NUL-terminated) into request_key,
   which holds DILL_WS_KEY_SIZE bytes.  Errors: EINVAL. */
DILL_EXPORT int dill_ws_request_key(char *request_key);
/* Computes the Sec-WebSocket-Accept value for request_key into
   response_key (DILL_WS_KEY_SIZE bytes).  Errors: EINVAL, EPROTO (not a
   valid key). */
DILL_EXPORT int dill_ws_response_key(const char *request_key,
    char *response_key);

#if !defined DILL_DISABLE_RAW_NAMES
#define WS_BINARY DILL_WS_BINARY
#define WS_TEXT DILL_WS_TEXT
#define WS_NOHTTP DILL_WS_NOHTTP
#define WS_KEY_SIZE DILL_WS_KEY_SIZE
#define ws_storage dill_ws_storage
#define ws_attach_server dill_ws_attach_server
#define ws_attach_server_mem dill_ws_attach_server_mem
#define ws_attach_client dill_ws_attach_client
#define ws_attach_client_mem dill_ws_attach_client_mem
#define ws_send dill_ws_send
#define ws_recv dill_ws_recv
#define ws_sendl dill_ws_sendl
#define ws_recvl dill_ws_recvl
#define ws_done dill_ws_done
#define ws_detach dill_ws_detach
#define ws_status dill_ws_status
#define ws_request_key dill_ws_request_key
#define ws_response_key dill_ws_response_key
#endif

/******************************************************************************/
/*  SOCKS5 (RFC 1928, RFC 1929)                                               */
/******************************************************************************/

/* Commands of a client request (socks5_proxy_recvcommand's result). */
#define DILL_SOCKS5_CONNECT (0x01)
#define DILL_SOCKS5_BIND (0x02)
#define DILL_SOCKS5_UDP_ASSOCIATE (0x03)

/* Reply codes of socks5_proxy_sendreply. */
#define DILL_SOCKS5_SUCCESS (0x00)
#define DILL_SOCKS5_GENERAL_FAILURE (0x01)
#define DILL_SOCKS5_CONNECTION_NOT_ALLOWED (0x02)
#define DILL_SOCKS5_NETWORK_UNREACHABLE (0x03)
#define DILL_SOCKS5_HOST_UNREACHABLE (0x04)
#define DILL_SOCKS5_CONNECTION_REFUSED (0x05)
#define DILL_SOCKS5_TTL_EXPIRED (0x06)
#define DILL_SOCKS5_COMMAND_NOT_SUPPORTED (0x07)
#define DILL_SOCKS5_ADDRESS_TYPE_NOT_SUPPORTED (0x08)

/* Decides whether a client may use the proxy: returns non-zero to let it
   in.  Both strings are NUL-terminated, at most 255 bytes. */
typedef int dill_socks5_auth_function(const char *username,
    const char *password);

/* Over the bytestream s, connected to a SOCKS5 proxy, asks the proxy for a
   TCP connection to addr; afterwards s carries that connection.  With
   username and password both non-NULL username/password authentication is
   offered besides none.  Errors: EINVAL, EBADF, ENOTSUP, EACCES (refused
   credentials or not allowed), ECONNREFUSED, ENETUNREACH, EHOSTUNREACH,
   ETIMEDOUT, EIO (proxy failure), EOPNOTSUPP, EAFNOSUPPORT (reply codes),
   EPROTO (malformed reply), ECONNRESET, ECANCELED. */
DILL_EXPORT int dill_socks5_client_connect(int s, const char *username,
    const char *password, struct dill_ipaddr *addr, int64_t deadline);
/* Like socks5_client_connect, but the proxy resolves hostname (address
   literals are sent as addresses). */
DILL_EXPORT int dill_socks5_client_connectbyname(int s, const char *username,
    const char *password, const char *hostname, int port, int64_t deadline);
/* Proxy side: negotiates the method with the client on s; with auth_fn
   the client must log in and auth_fn must accept it.  Errors: EBADF,
   ENOTSUP, EACCES, EPROTO, ECONNRESET, ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_socks5_proxy_auth(int s,
    dill_socks5_auth_function *auth_fn, int64_t deadline);
/* Proxy side: receives the client's request; returns its command and the
   destination in *addr (a name is resolved).  Errors: as socks5_proxy_auth
   without EACCES, plus EINVAL and the errors of ipaddr_remote. */
DILL_EXPORT int dill_socks5_proxy_recvcommand(int s, struct dill_ipaddr *addr,
    int64_t deadline);
/* Like socks5_proxy_recvcommand, but the destination is given as text in
   host (256 bytes: a name, or an address literal) and *port. */
DILL_EXPORT int dill_socks5_proxy_recvcommandbyname(int s, char *host,
    int *port, int64_t deadline);
/* Proxy side: answers the request with the reply code and the bound
   address addr (NULL: 0.0.0.0:0).  Errors: EINVAL, EBADF, ENOTSUP,
   ECONNRESET, ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_socks5_proxy_sendreply(int s, int reply,
    struct dill_ipaddr *addr, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define SOCKS5_CONNECT DILL_SOCKS5_CONNECT
#define SOCKS5_BIND DILL_SOCKS5_BIND
#define SOCKS5_UDP_ASSOCIATE DILL_SOCKS5_UDP_ASSOCIATE
#define SOCKS5_SUCCESS DILL_SOCKS5_SUCCESS
#define SOCKS5_GENERAL_FAILURE DILL_SOCKS5_GENERAL_FAILURE
#define SOCKS5_CONNECTION_NOT_ALLOWED DILL_SOCKS5_CONNECTION_NOT_ALLOWED
#define SOCKS5_NETWORK_UNREACHABLE DILL_SOCKS5_NETWORK_UNREACHABLE
#define SOCKS5_HOST_UNREACHABLE DILL_SOCKS5_HOST_UNREACHABLE
#define SOCKS5_CONNECTION_REFUSED DILL_SOCKS5_CONNECTION_REFUSED
#define SOCKS5_TTL_EXPIRED DILL_SOCKS5_TTL_EXPIRED
#define SOCKS5_COMMAND_NOT_SUPPORTED DILL_SOCKS5_COMMAND_NOT_SUPPORTED
#define SOCKS5_ADDRESS_TYPE_NOT_SUPPORTED DILL_SOCKS5_ADDRESS_TYPE_NOT_SUPPORTED
#define socks5_client_connect dill_socks5_client_connect
#define socks5_client_connectbyname dill_socks5_client_connectbyname
#define socks5_proxy_auth dill_socks5_proxy_auth
#define socks5_proxy_recvcommand dill_socks5_proxy_recvcommand
#define socks5_proxy_recvcommandbyname dill_socks5_proxy_recvcommandbyname
#define socks5_proxy_sendreply dill_socks5_proxy_sendreply
#endif

/******************************************************************************/
/*  WebSocket extensions (dill only; not in libdill 2.14)                     */
/******************************************************************************/

/* Flag for dill_ws_send_part and dill_ws_recv_part: more pieces of the same
   message follow. */
#define DILL_WS_MORE 4

/* The client's opening request, as seen by dill_ws_options.check (and
   .http) during dill_ws_attach_server_opts.  Valid only during that
   call. */
struct dill_ws_request;

/* The server's answer to a client's opening handshake, filled when
   dill_ws_options.response points to one (initialise it with
   DILL_WS_RESPONSE_INIT): when the upgrade succeeded, when the server
   refused it (any other status: the attach fails with EACCES) and when a
   101 answer was invalid (EPROTO).  status stays 0 when no complete
   response head arrived (the connection broke, the deadline passed, or the
   head was malformed). */
struct dill_ws_response {
    size_t size;        /* DILL_WS_RESPONSE_INIT sets it */
    int status;         /* HTTP status code, e.g. 101, 403; 0: none */
    char reason[128];   /* reason phrase, NUL-terminated (truncated) */
    /* The header lines in order, "Name: value\r\n" each, NUL-terminated;
       lines that do not fit are left out and counted in dropped. */
    char headers[4096];
    int nheaders;       /* lines in headers */
    int dropped;        /* lines left out */
    /* dill extension, set by ws_connect: the step that failed
       (DILL_WS_STEP_*), or 0 when it succeeded.  The attach calls set it
       to 0. */
    int step;
};
#define DILL_WS_RESPONSE_INIT {sizeof(struct dill_ws_response)}

/* Values of dill_ws_response.step: where ws_connect failed.  The same
   errno (EACCES, EPROTO, ETIMEDOUT...) can come from several steps. */
#define DILL_WS_STEP_URL 1        /* the URL or an option structure */
#define DILL_WS_STEP_PROXY 2      /* ws_options.proxy: its URL, reaching
                                     it, TLS with it, or its answer */
#define DILL_WS_STEP_CONNECT 3    /* resolving the host, connecting to it */
#define DILL_WS_STEP_TLS 4        /* TLS with the server (wss) */
#define DILL_WS_STEP_HANDSHAKE 5  /* the WebSocket opening handshake */

/* dill extension: the answer of dill_ws_options.http to a plain HTTP
   request.  The callback either fills it (status 200-599, body of len
   bytes with its Content-Type, extra header lines "Name: value" separated
   by CRLF or NULL) and returns 0, or returns a status 400-599 for an empty
   answer.  The response goes out with Content-Length and Connection:
   close; body and headers must stay valid until the attach returns, which
   fails with EACCES (nothing was upgraded). */
struct dill_ws_http_response {
    int status;
    const char *content_type;   /* NULL: no Content-Type */
    const void *body;
    size_t len;
    const char *headers;
};

/* Options of dill_ws_attach_client_opts and dill_ws_attach_server_opts.
   Initialise with DILL_WS_OPTIONS_INIT (see "option structures" above);
   every field left zero takes its default. */
struct dill_ws_options {
    size_t size;        /* DILL_WS_OPTIONS_INIT sets it */
    /* WS_TEXT (default message type for msend/mrecv) and WS_NOHTTP. */
    int flags;
    /* Largest message accepted, in bytes; 0 means 16 MiB, SIZE_MAX means
       no limit.  A bigger message fails the connection with close code 1009
       and EMSGSIZE. */
    size_t max_message;
    /* Client: subprotocols to offer, in order of preference.  Server:
       subprotocols accepted, in order of preference; the first one the
       client offered is agreed.  A NULL-terminated list, or NULL. */
    const char *const *protocols;
    /* Extra header lines for the request (client) or the 101 response
       (server): "Name: value" lines separated by CRLF, or NULL. */
    const char *headers;
    /* Client: value of the Origin header, or NULL for none. */
    const char *origin;
    /* Server: called with the valid upgrade request before it is answered.
       Return 0 to accept it, or an HTTP status from 400 to 599 to refuse it
       (the client gets that status; the attach fails with EACCES). */
    int (*check)(const struct dill_ws_request *req, void *arg);
    void *check_arg;
    /* Keepalive: while a receiving call waits and nothing has arrived for
       ping_interval ms, a ping is sent; when no pong follows within
       pong_timeout ms (0: ping_interval) the receiving call fails with
       ETIMEDOUT.  A sending call fails with ETIMEDOUT too when the peer
       takes no data for ping_interval + pong_timeout ms; the connection
       is then broken (ECONNRESET).  0 disables it. */
    int64_t ping_interval;
    int64_t pong_timeout;
    /* Client: where to store the server's answer to the handshake (see
       struct dill_ws_response), or NULL. */
    struct dill_ws_response *response;
    /* ws_connect only (the attach calls ignore it): the proxy to go
       through, "http://[user[:password]@]host[:port]" (CONNECT),
       "https://..." (CONNECT over TLS to the proxy), "socks5://..." (the
       client resolves the host) or "socks5h://..." (the proxy does), or
       NULL for a direct connection.  The library does not read
       http_proxy and the like from the environment; see ws_connect(3). */
    const char *proxy;
    /* Trust settings for an https:// proxy's certificate (NULL: the
       system store); it is checked against the proxy's host name unless
       server_name says otherwise. */
    const struct dill_tls_client_options *proxy_tls;
    /* permessage-deflate (RFC 7692; dill extension).  0 (the default)
       leaves it off: nothing is offered or accepted.  DILL_WS_DEFLATE: the
       client offers it, the server accepts the first acceptable offer. */
    int deflate;
    /* Bytes of zlib state a connection may keep between messages.  0: none
       (no context takeover either way; state is borrowed per message from
       a per-thread cache).  Otherwise the largest tier that fits, see
       ws_attach_client_opts(3). */
    size_t deflate_memory;
    /* Messages shorter than this go out uncompressed (0: 128 bytes). */
    size_t deflate_threshold;
    /* dill extension.  Server: called for a request that is not a
       WebSocket upgrade (no "Upgrade: websocket"), such as a browser
       fetching the page that opens the WebSocket, instead of refusing it;
       see struct dill_ws_http_response.  NULL: such requests are refused
       (405 or 400). */
    int (*http)(const struct dill_ws_request *req,
        struct dill_ws_http_response *resp, void *arg);
    void *http_arg;
};
#define DILL_WS_OPTIONS_INIT {sizeof(struct dill_ws_options)}

/* Value of dill_ws_options.deflate. */
#define DILL_WS_DEFLATE 1
/* Send flag: this message goes out uncompressed (dill extension). */
#define DILL_WS_NOCOMPRESS 8

/* permessage-deflate parameters agreed on a connection (RFC 7692 section
   7.1): window bits 8..15 (15 when the parameter was absent). */
struct dill_ws_deflate_params {
    int server_no_context_takeover;
    int client_no_context_takeover;
    int server_max_window_bits;
    int client_max_window_bits;
};

/* Like ws_attach_client, with options (o may be NULL for defaults) and
   storage (mem may be NULL: the object is allocated).  s is closed on any
   failure.  Errors: as ws_attach_client, plus EINVAL for bad options. */
DILL_EXPORT int dill_ws_attach_client_opts(int s, const char *resource,
    const char *host, const struct dill_ws_options *o,
    struct dill_ws_storage *mem, int64_t deadline);
/* Like ws_attach_server, with options (o may be NULL for defaults) and
   storage (mem may be NULL).  s is closed on any failure.  Errors: as
   ws_attach_server, plus EINVAL for bad options. */
DILL_EXPORT int dill_ws_attach_server_opts(int s, char *resource,
    size_t resourcelen, char *host, size_t hostlen,
    const struct dill_ws_options *o, struct dill_ws_storage *mem,
    int64_t deadline);
/* Copies the value of the first request header called name (any case;
   ":path" gives the request target, ":method" the method) to buf,
   NUL-terminated; returns its
   length.  Errors: EINVAL, ENOENT (no such header), EMSGSIZE. */
DILL_EXPORT ssize_t dill_ws_request_header(const struct dill_ws_request *req,
    const char *name, char *buf, size_t len);
/* The client's address, when the connection was accepted by ws_listen
   (check callbacks of its options).  Errors: EINVAL, ENOENT (not known:
   the socket was attached by the application). */
DILL_EXPORT int dill_ws_request_peer(const struct dill_ws_request *req,
    struct dill_ipaddr *addr);
/* From a check callback: attaches data to the connection being accepted;
   dill_ws_userdata returns it once the connection is established.  Errors:
   EINVAL. */
DILL_EXPORT int dill_ws_request_set_userdata(const struct dill_ws_request *req,
    void *data);
/* *data gets the pointer the check callback attached to the connection
   (NULL if none).  Errors: EBADF, ENOTSUP, EINVAL. */
DILL_EXPORT int dill_ws_userdata(int s, void **data);
/* Copies the agreed subprotocol to buf, NUL-terminated, and returns its
   length (0 and "" when none was agreed).  Errors: EBADF, ENOTSUP,
   EMSGSIZE. */
DILL_EXPORT ssize_t dill_ws_protocol(int s, char *buf, size_t len);
/* Tells whether permessage-deflate was agreed: returns 1 and fills *p (may
   be NULL) when it was, 0 when not.  Errors: EBADF, ENOTSUP. */
DILL_EXPORT int dill_ws_deflate(int s, struct dill_ws_deflate_params *p);
/* Sends a ping carrying len <= 125 bytes of buf.  Errors as for ws_send. */
DILL_EXPORT int dill_ws_ping(int s, const void *buf, size_t len,
    int64_t deadline);
/* Sends one piece of a message as one frame.  The first piece's flags give
   the type (WS_TEXT or WS_BINARY); DILL_WS_MORE means more pieces follow.
   While a message is in progress other sends on the socket wait. */
DILL_EXPORT int dill_ws_send_part(int s, int flags, const void *buf,
    size_t len, int64_t deadline);
/* Receives the next piece of a message into buf (at most len bytes) and
   returns its size; *flags gets the message type, plus DILL_WS_MORE when
   the message has not ended yet. */
DILL_EXPORT ssize_t dill_ws_recv_part(int s, int *flags, void *buf,
    size_t len, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define WS_MORE DILL_WS_MORE
#define ws_request dill_ws_request
#define ws_options dill_ws_options
#define WS_OPTIONS_INIT DILL_WS_OPTIONS_INIT
#define ws_response dill_ws_response
#define WS_RESPONSE_INIT DILL_WS_RESPONSE_INIT
#define WS_STEP_URL DILL_WS_STEP_URL
#define WS_STEP_PROXY DILL_WS_STEP_PROXY
#define WS_STEP_CONNECT DILL_WS_STEP_CONNECT
#define WS_STEP_TLS DILL_WS_STEP_TLS
#define WS_STEP_HANDSHAKE DILL_WS_STEP_HANDSHAKE
#define ws_attach_client_opts dill_ws_attach_client_opts
#define ws_attach_server_opts dill_ws_attach_server_opts
#define ws_request_header dill_ws_request_header
#define ws_request_peer dill_ws_request_peer
#define ws_request_set_userdata dill_ws_request_set_userdata
#define ws_userdata dill_ws_userdata
#define ws_protocol dill_ws_protocol
#define WS_DEFLATE DILL_WS_DEFLATE
#define WS_NOCOMPRESS DILL_WS_NOCOMPRESS
#define ws_deflate_params dill_ws_deflate_params
#define ws_http_response dill_ws_http_response
#define ws_deflate dill_ws_deflate
#define ws_ping dill_ws_ping
#define ws_send_part dill_ws_send_part
#define ws_recv_part dill_ws_recv_part
#endif

/******************************************************************************/
/*  WebSocket by URL (dill only; not in libdill 2.14)                         */
/******************************************************************************/

struct dill_tls_client_options;
struct dill_tls_server_ctx;

/* Connects to url, "ws://host[:port]/path?query" or "wss://...": resolves
   the host (IPv6 literals in brackets), connects with the deadline (as
   happyeyeballs_connect: both IP families raced), runs
   TLS for wss (certificate verified and SNI sent for the URL's host unless
   tls->server_name says otherwise; tls may be NULL), then the WebSocket
   handshake with the URL's Host and resource.  ws may be NULL.  Returns a
   ws handle.  Errors: EINVAL (malformed URL), EMSGSIZE (URL part too long),
   EADDRNOTAVAIL (unknown host), ECONNREFUSED, EACCES (certificate
   verification failed, or the server refused the upgrade), EPROTO
   (handshake failed), ENOTSUP (wss in a build without TLS), ECONNRESET,
   ETIMEDOUT, ECANCELED.  When ws->response is set, its step field tells
   which step failed (DILL_WS_STEP_*): EACCES at DILL_WS_STEP_TLS is a
   certificate that failed verification (tls_last_error says why), at
   DILL_WS_STEP_HANDSHAKE a refused upgrade (status, reason, headers). */
DILL_EXPORT int dill_ws_connect(const char *url,
    const struct dill_ws_options *ws, const struct dill_tls_client_options *tls,
    int64_t deadline);

/* Settings of dill_ws_listen.  Initialise with DILL_WS_LISTEN_OPTIONS_INIT;
   NULL, or every field left zero, gives plain ws with default WebSocket
   options. */
struct dill_ws_listen_options {
    size_t size;        /* DILL_WS_LISTEN_OPTIONS_INIT sets it */
    /* Options of every accepted connection (flags, protocols, check...). */
    const struct dill_ws_options *ws;
    /* TLS server context for wss, or NULL for plain ws.  The listener keeps
       a reference of its own: the context may be freed after the call. */
    struct dill_tls_server_ctx *tls;
    /* Time allowed for the TLS and WebSocket handshakes of one connection,
       in ms (0: 10,000). */
    int64_t handshake_timeout;
    /* Listen backlog (0: 1024; the kernel caps it at net.core.somaxconn). */
    int backlog;
    /* Handshakes in progress at once; more connections wait in the backlog
       (0: 256). */
    int max_pending;
    /* Called for each connection whose TLS or WebSocket handshake failed
       (not for cancellations), with the client's address and the errno of
       the failure, in the listener's coroutine (it must not block).  May
       be NULL. */
    void (*failed)(const struct dill_ipaddr *peer, int err, void *arg);
    void *failed_arg;
    /* dill extension: non-zero listens with SO_REUSEPORT (see
       tcp_listen_reuseport), for one listener per thread on the same
       address. */
    int reuseport;
};
#define DILL_WS_LISTEN_OPTIONS_INIT {sizeof(struct dill_ws_listen_options)}

/* Listens on addr (port 0: picked and written back into addr) and runs the
   TLS and WebSocket server handshakes of incoming connections concurrently
   in the background, so that a slow or hostile client never delays
   others.  Returns a listener handle; hclose stops it and closes the
   connections not yet accepted.  Errors: as tcp_listen. */
DILL_EXPORT int dill_ws_listen(struct dill_ipaddr *addr,
    const struct dill_ws_listen_options *opts);
/* Returns the next connection whose handshakes have completed, as a ws
   handle; resource (may be NULL) gets the request target and peer (may be
   NULL) the client's address.  Errors: EBADF, ENOTSUP, EMSGSIZE (resource
   does not fit; that connection is closed), ECANCELED, ETIMEDOUT. */
DILL_EXPORT int dill_ws_accept(int s, char *resource, size_t resourcelen,
    struct dill_ipaddr *peer, int64_t deadline);

/* Counters of a listener.  Initialise with DILL_WS_LISTEN_STATS_INIT. */
struct dill_ws_listen_stats {
    size_t size;            /* DILL_WS_LISTEN_STATS_INIT sets it */
    uint64_t accepted;      /* TCP connections accepted */
    uint64_t handshakes;    /* handshakes that succeeded */
    uint64_t failed;        /* handshakes that failed */
    int pending;            /* handshakes in progress or waiting for
                               ws_accept */
    int open;               /* connections handed out and not yet closed */
};
#define DILL_WS_LISTEN_STATS_INIT {sizeof(struct dill_ws_listen_stats)}
/* Fills *st (up to st->size bytes).  Errors: EBADF, ENOTSUP, EINVAL. */
DILL_EXPORT int dill_ws_listen_stats(int s, struct dill_ws_listen_stats *st);
/* New handshakes use ctx (NULL: plain ws from now on); connections made
   before keep theirs.  The listener takes a reference: ctx may be freed
   after the call.  This is how certificates are renewed without dropping
   connections.  Errors: EBADF, ENOTSUP (not a listener, or ctx in a build
   without TLS). */
DILL_EXPORT int dill_ws_listen_set_tls(int s, struct dill_tls_server_ctx *ctx);
/* Graceful shutdown: stops accepting (handshakes in progress are
   cancelled; ws_accept fails with EPIPE from now on), sends a Close frame
   with status (e.g. 1001, going away) and reason (len <= 123 bytes) on
   every connection the listener handed out that is still open, and waits
   until the application has closed them all (its receiving calls fail
   with EPIPE once the peer answers).  The listener still needs hclose.
   Errors: EBADF, ENOTSUP, EINVAL (bad status or reason), EPIPE (already
   shut down), ETIMEDOUT (connections remain open: cancel their
   coroutines), ECANCELED. */
DILL_EXPORT int dill_ws_listen_shutdown(int s, int status, const void *reason,
    size_t len, int64_t deadline);

/* dill extension: a publish/subscribe hub for WebSocket broadcast, shared
   by threads.  Messages published to a topic go to every WebSocket that
   joined the hub and subscribed to it, in publish order, each through a
   writer coroutine of the subscriber's thread.  The message is copied once
   and its frame header built once, whatever the number of subscribers;
   for subscribers with permessage-deflate without the server's context
   takeover it is compressed once (per window size) for all of them.
   Each subscriber's queue holds at most max_queue bytes of frames; when a
   message does not fit, the policy decides. */
#define DILL_HUB_DROP_OLDEST 0     /* oldest queued messages are dropped */
#define DILL_HUB_CLOSE 1           /* the subscriber is closed (close_code) */
#define DILL_HUB_WAIT 2            /* the publisher waits for room */
struct dill_hub_options {
    size_t size;                   /* DILL_HUB_OPTIONS_INIT sets it */
    /* Bytes of queued frames per subscriber (0: 1 MiB). */
    size_t max_queue;
    /* What to do when a subscriber's queue is full (0: drop oldest). */
    int policy;
    /* Called once for each subscriber the hub drops (HUB_CLOSE, or no
       memory for its queue) with its WebSocket handle (valid in the
       subscriber's thread only) and dropped_arg, from the publishing
       coroutine, which it must not block.  May be NULL. */
    void (*dropped)(int ws, void *arg);
    void *dropped_arg;
    /* Milliseconds a subscriber may take to accept one batch of messages
       before it is dropped like under HUB_CLOSE (0: no limit). */
    int64_t send_timeout;
    /* dill extension (hub over Redis): a Redis server, "redis://host:port/"
       or "rediss://..." (TLS), with an optional "user:password@" or
       ":password@" (percent-encoded)
       before the host, that links this hub with the hubs of other
       processes or machines using the same server and prefix: a message
       published to a topic reaches their subscribers too, through the
       Redis channel prefix + topic.  NULL: this process only.  See
       hub_redis(3). */
    const char *redis;
    /* Prefix of the Redis channel names (NULL: "dill:"). */
    const char *redis_prefix;
    /* Bytes of messages waiting for Redis (while it is slow or away) kept
       at most; when more come, the oldest waiting ones are dropped and
       counted (0: 1 MiB). */
    size_t redis_queue;
    /* Milliseconds within which Redis must answer (connecting, pings,
       replies) before the connection is taken as dead and made again
       (0: 3000). */
    int64_t redis_timeout;
    /* Close status for a subscriber dropped as too slow (HUB_CLOSE or
       send_timeout): 1008 (policy violation) or 1013 (try again later)
       (0: 1008).  Other values: EINVAL. */
    int close_code;
    /* TLS settings for a rediss:// URL (copied; NULL: the server's
       certificate is checked against the system's CAs and the URL's host
       name, which is also the default server_name).  Builds without TLS
       refuse rediss:// (ENOTSUP). */
    const struct dill_tls_client_options *redis_tls;
};
#define DILL_HUB_OPTIONS_INIT {sizeof(struct dill_hub_options)}
struct dill_hub;
/* Creates a hub (opts NULL: defaults).  NULL with EINVAL (bad option or
   Redis URL), ENOMEM, ENOTSUP (a Redis URL in a build without hiredis, or
   rediss:// without TLS) or EAGAIN (no thread for Redis).  A hub with Redis connects
   in the background: Redis may be down at first. */
DILL_EXPORT struct dill_hub *dill_hub_make(const struct dill_hub_options *opts);
/* Frees a hub that no subscriber has joined any more.  Errors: EINVAL,
   EBUSY (subscribers remain). */
DILL_EXPORT int dill_hub_free(struct dill_hub *hub);
/* dill extension: counters of a hub, filled by dill_hub_stats. */
struct dill_hub_stats {
    size_t size;                   /* DILL_HUB_STATS_INIT sets it */
    int subscribers;               /* joined subscriber handles */
    int topics;                    /* topics with subscribers */
    /* The rest stays 0 for a hub without Redis. */
    int redis_up;                  /* 1 while both Redis connections work */
    int redis_topics;              /* channels Redis confirmed subscribed */
    uint64_t redis_connects;       /* connections made to Redis */
    uint64_t redis_sent;           /* messages Redis acknowledged */
    uint64_t redis_received;       /* messages of other hubs delivered here */
    uint64_t redis_dropped;        /* messages never sent: queue full */
    uint64_t redis_lost;           /* written to a connection that broke
                                      before Redis acknowledged them */
    size_t redis_queued;           /* bytes waiting for Redis */
};
#define DILL_HUB_STATS_INIT {sizeof(struct dill_hub_stats)}
/* Fills *st (up to st->size bytes).  Errors: EINVAL. */
DILL_EXPORT int dill_hub_stats(struct dill_hub *hub, struct dill_hub_stats *st);
/* Joins WebSocket handle ws to the hub: returns a subscriber handle of the
   calling thread.  The hub then sends on ws (other coroutines may still
   send and receive on it); hclose of the subscriber leaves every topic and
   stops sending; close it before ws.  Subscribers still open when their
   thread (other than main) exits are closed then, as by hclose; ws is
   not.  Errors: EINVAL, EBADF, ENOTSUP, ENOMEM, ECANCELED. */
DILL_EXPORT int dill_hub_join(struct dill_hub *hub, int ws);
/* Subscribes to topic (a string).  Errors: EBADF, ENOTSUP, EINVAL, ENOMEM,
   EEXIST (subscribed already), EPIPE (the subscriber was dropped). */
DILL_EXPORT int dill_hub_subscribe(int sub, const char *topic);
/* Errors: EBADF, ENOTSUP, EINVAL, ENOENT (not subscribed). */
DILL_EXPORT int dill_hub_unsubscribe(int sub, const char *topic);
/* Publishes one message (flags WS_TEXT: text, checked as UTF-8; 0:
   binary) to the subscribers of topic; returns once it is queued for
   every one of them (the sending happens in the background).  Only with
   DILL_HUB_WAIT does it wait, until deadline, for room in slow
   subscribers' queues; ETIMEDOUT then means some did not get it.  Errors:
   EINVAL, EMSGSIZE (larger than max_queue), ENOMEM, ETIMEDOUT,
   ECANCELED. */
DILL_EXPORT int dill_hub_publish(struct dill_hub *hub, const char *topic,
    int flags, const void *buf, size_t len, int64_t deadline);

#if !defined DILL_DISABLE_RAW_NAMES
#define ws_connect dill_ws_connect
#define ws_listen_options dill_ws_listen_options
#define WS_LISTEN_OPTIONS_INIT DILL_WS_LISTEN_OPTIONS_INIT
#define ws_listen_stats dill_ws_listen_stats
#define WS_LISTEN_STATS_INIT DILL_WS_LISTEN_STATS_INIT
#define ws_listen_set_tls dill_ws_listen_set_tls
#define ws_listen_shutdown dill_ws_listen_shutdown
#define ws_listen dill_ws_listen
#define ws_accept dill_ws_accept
#define HUB_DROP_OLDEST DILL_HUB_DROP_OLDEST
#define HUB_CLOSE DILL_HUB_CLOSE
#define HUB_WAIT DILL_HUB_WAIT
#define hub_options dill_hub_options
#define HUB_OPTIONS_INIT DILL_HUB_OPTIONS_INIT
#define hub_make dill_hub_make
#define hub_free dill_hub_free
#define hub_stats dill_hub_stats
#define HUB_STATS_INIT DILL_HUB_STATS_INIT
#define hub_join dill_hub_join
#define hub_subscribe dill_hub_subscribe
#define hub_unsubscribe dill_hub_unsubscribe
#define hub_publish dill_hub_publish
#endif

#endif /* !DILL_DISABLE_SOCKETS */

#ifdef __cplusplus
}
#endif

#endif
