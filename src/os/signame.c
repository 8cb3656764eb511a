/* src/os/signame.c - names and descriptions of the standard Linux signals, for messages
 * ("SIGINT received", "killed by SIGSEGV (segmentation fault)"). Our own table, because
 * sigabbrev_np / sigdescr_np are glibc's alone (musl has neither) and strsignal may write a
 * static buffer. Signals an architecture lacks are left out by their #ifdef. */
#include <signal.h>
#include <stddef.h>

#include "os/os.h"

struct signame {
    const char *abbrev, *descr;
};

#define S(sig, descr) [sig] = {&(#sig)[3], descr} /* the name without "SIG" */
static const struct signame names[] = {
    S(SIGHUP, "Hangup"),
    S(SIGINT, "Interrupt"),
    S(SIGQUIT, "Quit"),
    S(SIGILL, "Illegal instruction"),
    S(SIGTRAP, "Trace/breakpoint trap"),
    S(SIGABRT, "Aborted"),
    S(SIGBUS, "Bus error"),
    S(SIGFPE, "Floating point exception"),
    S(SIGKILL, "Killed"),
    S(SIGUSR1, "User defined signal 1"),
    S(SIGSEGV, "Segmentation fault"),
    S(SIGUSR2, "User defined signal 2"),
    S(SIGPIPE, "Broken pipe"),
    S(SIGALRM, "Alarm clock"),
    S(SIGTERM, "Terminated"),
#ifdef SIGSTKFLT
    S(SIGSTKFLT, "Stack fault"),
#endif
    S(SIGCHLD, "Child exited"),
    S(SIGCONT, "Continued"),
    S(SIGSTOP, "Stopped (signal)"),
    S(SIGTSTP, "Stopped"),
    S(SIGTTIN, "Stopped (tty input)"),
    S(SIGTTOU, "Stopped (tty output)"),
    S(SIGURG, "Urgent I/O condition"),
    S(SIGXCPU, "CPU time limit exceeded"),
    S(SIGXFSZ, "File size limit exceeded"),
    S(SIGVTALRM, "Virtual timer expired"),
    S(SIGPROF, "Profiling timer expired"),
    S(SIGWINCH, "Window changed"),
#ifdef SIGPOLL
    S(SIGPOLL, "I/O possible"), /* = SIGIO; glibc names it POLL */
#else
    S(SIGIO, "I/O possible"),
#endif
#ifdef SIGPWR
    S(SIGPWR, "Power failure"),
#endif
    S(SIGSYS, "Bad system call"),
};
#undef S

static const struct signame *find(int signo)
{
    if (signo <= 0 || (size_t)signo >= sizeof names / sizeof names[0]) return NULL;
    return names[signo].abbrev ? &names[signo] : NULL;
}

const char *weft__os_signal_abbrev(int signo)
{
    const struct signame *s = find(signo);
    return s ? s->abbrev : NULL;
}

const char *weft__os_signal_descr(int signo)
{
    const struct signame *s = find(signo);
    return s ? s->descr : NULL;
}
