/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the weft authors (LICENSE) */
/* weft.h - the umbrella header: includes every module header, nothing else. */
#ifndef WEFT_H
#define WEFT_H

#include <weft/config.h>
#include <weft/error.h>
#include <weft/time.h>
#include <weft/cancel.h>
#include <weft/thread.h>
#include <weft/local.h>
#include <weft/signal.h>
#include <weft/sync.h>
#include <weft/queue.h>
#include <weft/timer.h>
#include <weft/group.h>
#include <weft/future.h>
#include <weft/pool.h>
#include <weft/process.h>
#include <weft/debug.h>
#include <weft/ipcq.h>
#include <weft/procpool.h>
#include <weft/version.h>

#endif
