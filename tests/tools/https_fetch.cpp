// SPDX-License-Identifier: Apache-2.0
// steadfast_https_fetch: drives resolver/io's HTTPS client from the integration suite (the
// feed fetcher is not wired into the daemon yet). One request through HttpClient on a libuv
// loop, as the daemon's control loop would run it; prints one line:
//   ok status=200 not_modified=0 bytes=N etag=... last_modified=...
//   error code=<n> detail=...
// Usage: steadfast_https_fetch URL [--ca FILE] [--etag E] [--ims DATE] [--max-bytes N]
//                              [--creds FILE] [--timeout-ms N]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <uv.h>

#include "resolver/io/http_client.h"

using namespace steadfast;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s URL [options]\n", argv[0]);
    return 64;
  }
  io::HttpRequest req;
  req.url = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    const std::string val = argv[i + 1];
    if (opt == "--ca") {
      req.ca_file = val;
    } else if (opt == "--etag") {
      req.if_none_match = val;
    } else if (opt == "--ims") {
      req.if_modified_since = val;
    } else if (opt == "--max-bytes") {
      req.max_body_bytes = std::stoull(val);
    } else if (opt == "--timeout-ms") {
      req.total_timeout = std::chrono::milliseconds(std::stoll(val));
    } else if (opt == "--creds") {
      auto c = io::loadHttpCredentials(val);
      if (!c) {
        std::printf("error code=%d detail=%s\n", static_cast<int>(c.error().code),
                    c.error().detail.c_str());
        return 2;
      }
      req.credentials = *c;
    } else {
      std::fprintf(stderr, "unknown option %s\n", opt.c_str());
      return 64;
    }
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int rc = 1;
  {
    io::HttpClient client(&loop);
    client.submit(req, [&](Result<io::HttpResponse> res) {
      if (res) {
        std::printf("ok status=%ld not_modified=%d bytes=%zu etag=%s last_modified=%s\n",
                    res->status, res->not_modified ? 1 : 0, res->body.size(), res->etag.c_str(),
                    res->last_modified.c_str());
        rc = 0;
      } else {
        std::printf("error code=%d detail=%s\n", static_cast<int>(res.error().code),
                    res.error().detail.c_str());
        rc = 2;
      }
      client.stop();
    });
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return rc;
}
