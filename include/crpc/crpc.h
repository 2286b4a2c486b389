/*
 * crpc/crpc.h: every public crpc header in one include.
 */
#ifndef CRPC_CRPC_H
#define CRPC_CRPC_H

#include "crpc/common.h"
#include "crpc/coro.h"
#include "crpc/deadline.h"
#include "crpc/error.h"
#include "crpc/future.h"
#include "crpc/interceptor.h"
#include "crpc/log.h"
#include "crpc/loop.h"
#include "crpc/metadata.h"
#include "crpc/method.h"
#include "crpc/metrics.h"
#include "crpc/peer_auth.h"
#include "crpc/pool.h"
#include "crpc/status.h"
#include "crpc/trace.h"

#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/ctx.h"
#include "crpc/server.h"

#endif /* CRPC_CRPC_H */
