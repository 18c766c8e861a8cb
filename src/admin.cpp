// Admin: the two routes.
#include "admin.h"

#include "metrics.h"

void Admin::respond(HttpServer::Exchange& ex, const HttpRequest& req)
{
    HttpServer::Response r;
    r.status = req.status;
    if (req.status == 0 && req.path == "/metrics") {
        r.status = 200;
        r.body = source_.metrics();
        r.content_type = exposition_content_type;
    } else if (req.status == 0 && req.path == "/healthz") {
        std::string reason = source_.unhealthy_reason();
        r.status = reason.empty() ? 200 : 503;
        r.body = (reason.empty() ? "ok" : reason) + "\n";
    } else if (req.status == 0) {
        r.status = 404;
        r.body = "not found; try /metrics or /healthz\n";
    } else {
        r.body = std::string(req.why) + "\n";
    }
    ex.answer(req, r);
}
