/* Error codes for every Corral library: one X-macro table gives each code its
 * name, message and the HTTP status a handler answers with.
 * Codes are negative.  -1 .. -4095 carry a negated errno; project codes follow. */
#ifndef CORRAL_ERR_H
#define CORRAL_ERR_H

/*        name          status  message */
#define CORRAL_ERRORS(X)                                                   \
	X(EINVAL_PARAM, 400, "Parameter verification failed.")                 \
	X(EBADREQ, 400, "bad request")                                         \
	X(EAUTH, 401, "authentication failure")                                \
	X(ENOTICKET, 401, "No ticket")                                         \
	X(ECSRF, 401, "Permission denied - invalid csrf token")                \
	X(EPERM_CHECK, 403, "Permission check failed")                         \
	X(ENOTFOUND, 404, "does not exist")                                    \
	X(ENOROUTE, 501, "not implemented")                                    \
	X(EEXISTS, 500, "already exists")                                      \
	X(ELOCKED, 500, "resource is locked")                                  \
	X(ETOOBIG, 413, "request entity too large")                            \
	X(ECORRUPT, 500, "image is corrupt")                                   \
	X(EFORMAT, 500, "invalid image format")                                \
	X(EUNSUPPORTED, 500, "feature not supported")                          \
	X(ESTORE, 500, "configuration store error")                            \
	X(EQMP, 500, "QEMU monitor error")                                     \
	X(ENOTRUNNING, 500, "not running")                                     \
	X(ETIMEOUT, 500, "timeout")                                            \
	X(EINTERNAL, 500, "internal error")                                     \
	X(EPEER, 595, "cannot reach the cluster node")

#define CR_ERR_BASE (-10000)

/* Project codes count down from CR_ERR_BASE. */
enum corral_err {
#define CR_ERR_IDX(name, status, msg) CR_IDX_##name,
	CORRAL_ERRORS(CR_ERR_IDX)
#undef CR_ERR_IDX
	CR_IDX_COUNT_
};
#define CR_CODE(name) (CR_ERR_BASE - CR_IDX_##name)
#define CR_EINVAL_PARAM CR_CODE(EINVAL_PARAM)
#define CR_EBADREQ CR_CODE(EBADREQ)
#define CR_EAUTH CR_CODE(EAUTH)
#define CR_ENOTICKET CR_CODE(ENOTICKET)
#define CR_ECSRF CR_CODE(ECSRF)
#define CR_EPERM_CHECK CR_CODE(EPERM_CHECK)
#define CR_ENOTFOUND CR_CODE(ENOTFOUND)
#define CR_ENOROUTE CR_CODE(ENOROUTE)
#define CR_EEXISTS CR_CODE(EEXISTS)
#define CR_ELOCKED CR_CODE(ELOCKED)
#define CR_ETOOBIG CR_CODE(ETOOBIG)
#define CR_ECORRUPT CR_CODE(ECORRUPT)
#define CR_EFORMAT CR_CODE(EFORMAT)
#define CR_EUNSUPPORTED CR_CODE(EUNSUPPORTED)
#define CR_ESTORE CR_CODE(ESTORE)
#define CR_EQMP CR_CODE(EQMP)
#define CR_ENOTRUNNING CR_CODE(ENOTRUNNING)
#define CR_ETIMEOUT CR_CODE(ETIMEOUT)
#define CR_EINTERNAL CR_CODE(EINTERNAL)
#define CR_EPEER CR_CODE(EPEER)

/* Message for any code (project or -errno).  Static storage, never NULL. */
const char *err_str(int code);
/* Short symbolic name ("CR_ENOTFOUND", "ENOENT"). */
const char *err_name(int code);
/* HTTP status a handler answers with for this code; -errno maps to 500. */
int err_http_status(int code);

#endif
