/*
 * libpq, loaded when a PostgreSQL store is first used (store_pg*.c only):
 * see pq.c. The store's files call libpq by its own names; here those names
 * become the functions found in the library at run time.
 */
#ifndef GITGATED_PQ_H
#define GITGATED_PQ_H

#include <libpq-events.h>
#include <libpq-fe.h>
#include <stdbool.h>

/*
 * Every libpq function the store calls, and below, the same names made
 * into the loaded functions. The build keeps the two lists and the calls
 * in step: a name missing below is linked against a libpq that gitgated
 * does not link (undefined), one missing here has no field (an error).
 */
#define GG_PQ_FUNCTIONS(X)                                                                         \
	X(PQbackendPID)                                                                            \
	X(PQclear)                                                                                 \
	X(PQcmdStatus)                                                                             \
	X(PQcmdTuples)                                                                             \
	X(PQconninfoFree)                                                                          \
	X(PQconninfoParse)                                                                         \
	X(PQconnectdbParams)                                                                       \
	X(PQconsumeInput)                                                                          \
	X(PQenterPipelineMode)                                                                     \
	X(PQerrorMessage)                                                                          \
	X(PQexec)                                                                                  \
	X(PQexecParams)                                                                            \
	X(PQexecPrepared)                                                                          \
	X(PQexitPipelineMode)                                                                      \
	X(PQfinish)                                                                                \
	X(PQflush)                                                                                 \
	X(PQfreemem)                                                                               \
	X(PQgetResult)                                                                             \
	X(PQgetisnull)                                                                             \
	X(PQgetvalue)                                                                              \
	X(PQinstanceData)                                                                          \
	X(PQisBusy)                                                                                \
	X(PQisnonblocking)                                                                         \
	X(PQnotifies)                                                                              \
	X(PQntuples)                                                                               \
	X(PQpipelineSync)                                                                          \
	X(PQprepare)                                                                               \
	X(PQregisterEventProc)                                                                     \
	X(PQresultErrorField)                                                                      \
	X(PQresultStatus)                                                                          \
	X(PQsendPrepare)                                                                           \
	X(PQsendQueryParams)                                                                       \
	X(PQsendQueryPrepared)                                                                     \
	X(PQsetInstanceData)                                                                       \
	X(PQsetNoticeProcessor)                                                                    \
	X(PQsetnonblocking)                                                                        \
	X(PQsocket)                                                                                \
	X(PQstatus)                                                                                \
	X(PQtransactionStatus)

#define GG_PQ_FIELD(f) __typeof__(f) *f;
typedef struct {
	GG_PQ_FUNCTIONS(GG_PQ_FIELD)
} gg_pq_api;
#undef GG_PQ_FIELD
extern gg_pq_api gg_pq;

/*
 * Load libpq once (thread-safe): true when every function above was found;
 * else false and, when err is not NULL, *err says why (allocated).
 */
bool gg_pq_load(char **err);

/* A file that links libpq itself (a test) defines GG_PQ_LINKED before including this. */
#if !defined(GG_PQ_LINKED) && !defined(GG_PQ_IMPL)
#define PQbackendPID         gg_pq.PQbackendPID
#define PQclear              gg_pq.PQclear
#define PQcmdStatus          gg_pq.PQcmdStatus
#define PQcmdTuples          gg_pq.PQcmdTuples
#define PQconninfoFree       gg_pq.PQconninfoFree
#define PQconninfoParse      gg_pq.PQconninfoParse
#define PQconnectdbParams    gg_pq.PQconnectdbParams
#define PQconsumeInput       gg_pq.PQconsumeInput
#define PQenterPipelineMode  gg_pq.PQenterPipelineMode
#define PQerrorMessage       gg_pq.PQerrorMessage
#define PQexec               gg_pq.PQexec
#define PQexecParams         gg_pq.PQexecParams
#define PQexecPrepared       gg_pq.PQexecPrepared
#define PQexitPipelineMode   gg_pq.PQexitPipelineMode
#define PQfinish             gg_pq.PQfinish
#define PQflush              gg_pq.PQflush
#define PQfreemem            gg_pq.PQfreemem
#define PQgetResult          gg_pq.PQgetResult
#define PQgetisnull          gg_pq.PQgetisnull
#define PQgetvalue           gg_pq.PQgetvalue
#define PQinstanceData       gg_pq.PQinstanceData
#define PQisBusy             gg_pq.PQisBusy
#define PQisnonblocking      gg_pq.PQisnonblocking
#define PQnotifies           gg_pq.PQnotifies
#define PQntuples            gg_pq.PQntuples
#define PQpipelineSync       gg_pq.PQpipelineSync
#define PQprepare            gg_pq.PQprepare
#define PQregisterEventProc  gg_pq.PQregisterEventProc
#define PQresultErrorField   gg_pq.PQresultErrorField
#define PQresultStatus       gg_pq.PQresultStatus
#define PQsendPrepare        gg_pq.PQsendPrepare
#define PQsendQueryParams    gg_pq.PQsendQueryParams
#define PQsendQueryPrepared  gg_pq.PQsendQueryPrepared
#define PQsetInstanceData    gg_pq.PQsetInstanceData
#define PQsetNoticeProcessor gg_pq.PQsetNoticeProcessor
#define PQsetnonblocking     gg_pq.PQsetnonblocking
#define PQsocket             gg_pq.PQsocket
#define PQstatus             gg_pq.PQstatus
#define PQtransactionStatus  gg_pq.PQtransactionStatus
#endif

#endif
