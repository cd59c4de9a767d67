/* GET /nodes/{node}/rrddata and /nodes/{node}/qemu/{vmid}/rrddata: the
 * statistics history for the UI's graphs, in Proxmox's shape
 * (pve-manager API2/Nodes.pm rrddata, qemu-server API2/Qemu.pm rrddata). */
#include "server/api.h"

#include <time.h>

#include "common/err.h"
#include "server/app.h"
#include "server/params.h"
#include "server/qemu_int.h"
#include "server/rrdstat.h"

#define RRD_TIMEFRAME_PARAM                                                                        \
	{                                                                                          \
		.name = "timeframe", .type = PT_ENUM, .enum_values = "hour|day|week|month|year"    \
	}
#define RRD_CF_PARAM                                                                               \
	{                                                                                          \
		.name = "cf", .type = PT_ENUM, .flags = PF_OPTIONAL, .enum_values = "AVERAGE|MAX"  \
	}

const struct param_spec api_node_rrddata_params[] = {
    QEMU_NODE_PARAM,
    RRD_TIMEFRAME_PARAM,
    RRD_CF_PARAM,
    {.name = NULL},
};
const struct param_spec api_qemu_rrddata_params[] = {
    QEMU_NODE_PARAM, QEMU_VMID_PARAM, RRD_TIMEFRAME_PARAM, RRD_CF_PARAM, {.name = NULL},
};

static int rrddata(struct req *req, struct resp *resp, int vmid)
{
	int tf = rrd_timeframe_parse(req_str(req, "timeframe"));
	int cf = rrd_cf_parse(req_str(req, "cf"));
	int r;

	if (!req->app->rrd)
		return resp_error(resp, CR_EINTERNAL, "no statistics on this node");
	r = rrdstat_fetch(req->app->rrd, vmid, (enum rrd_timeframe)tf, (enum rrd_cf)cf,
			  (int64_t)time(NULL), &resp->data);
	if (r < 0)
		return resp_error(resp, r, "RRD error: %s", err_str(r));
	return 0;
}

int api_node_rrddata(struct req *req, struct resp *resp)
{
	int r = api_node_check(req, resp);

	return r < 0 ? r : rrddata(req, resp, 0);
}

int api_qemu_rrddata(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r = api_node_check(req, resp);
	struct qvm vm;

	if (r < 0)
		return r;
	if ((r = qvm_read(req->app, vmid, &vm)) == CR_ENOTFOUND)
		return qemu_no_such_vm(req, resp, vmid);
	if (r < 0)
		return resp_error(resp, r, "%s", err_str(r));
	qvm_clear(&vm);
	return rrddata(req, resp, vmid);
}
