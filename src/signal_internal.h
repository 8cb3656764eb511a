/* src/signal_internal.h - what thread.c needs from the signal module. */
#ifndef WEFT_SIGNAL_INTERNAL_H
#define WEFT_SIGNAL_INTERNAL_H

/* Block the caught signals in the calling thread, if weft_signals_catch is in force. */
void weft__signals_block_self(void);
/* In a new child process made by fork(): the signal thread did not come along, so forget that
 * signals were caught (weft_signals_catch may be called again there). */
void weft__signals_forget(void);
/* 1 if weft_signals_catch receives signo (debug.c: such a signal cannot trigger a dump). */
int weft__signals_catching(int signo);

#endif
