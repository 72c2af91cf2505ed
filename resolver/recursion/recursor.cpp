// SPDX-License-Identifier: Apache-2.0
#include "resolver/recursion/recursor.h"

#include <charconv>

#include <unbound.h>

namespace steadfast::recursion {

struct Recursor::Request {
  Recursor* owner = nullptr;
  uint64_t cookie = 0;
  int id = -1;
  bool cancelled = false;
};

namespace {

Status setOption(ub_ctx* ctx, const char* opt, const std::string& value) {
  const int rc = ub_ctx_set_option(ctx, opt, value.c_str());
  if (rc != 0) {
    return makeError(Errc::InvalidArgument, std::string("libunbound option ") + opt + " " + value +
                                                ": " + ub_strerror(rc));
  }
  return Ok{};
}

}  // namespace

std::string toUnboundAddress(std::string_view entry) {
  std::string_view host = entry;
  std::string_view port;
  if (!entry.empty() && entry.front() == '[') {
    const size_t close = entry.find(']');
    if (close == std::string_view::npos) {
      return {};
    }
    host = entry.substr(1, close - 1);
    std::string_view rest = entry.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return {};
      }
      port = rest.substr(1);
    }
  } else if (const size_t colon = entry.find(':'); colon != std::string_view::npos) {
    if (entry.find(':', colon + 1) != std::string_view::npos) {
      host = entry;  // a bare IPv6 address
    } else {
      host = entry.substr(0, colon);
      port = entry.substr(colon + 1);
    }
  }
  if (host.empty()) {
    return {};
  }
  std::string out(host);
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return {};
    }
    out += '@';
    out += port;
  }
  return out;
}

Result<std::unique_ptr<Recursor>> Recursor::create(uv_loop_t* loop, const RecursionConfig& config,
                                                   RecursionListener& listener) {
  ub_ctx* ctx = ub_ctx_create();
  if (ctx == nullptr) {
    return makeError(Errc::Internal, "libunbound: cannot create a context");
  }
  auto fail = [ctx](Error e) -> Result<std::unique_ptr<Recursor>> {
    ub_ctx_delete(ctx);
    return Unexpected<Error>{std::move(e)};
  };
  // A background thread does libunbound's work; results come back through ub_fd.
  if (const int rc = ub_ctx_async(ctx, 1); rc != 0) {
    return fail(Error{Errc::Internal, std::string("libunbound async: ") + ub_strerror(rc)});
  }
  const std::pair<const char*, std::string> options[] = {
      {"msg-cache-size:", std::to_string(config.msg_cache_bytes)},
      {"rrset-cache-size:", std::to_string(config.rrset_cache_bytes)},
      {"key-cache-size:", std::to_string(config.rrset_cache_bytes / 4 + 65536)},
      {"neg-cache-size:", std::to_string(config.msg_cache_bytes / 4 + 65536)},
      {"infra-cache-numhosts:", "2000"},
      {"do-not-query-localhost:", config.root_servers.empty() ? "yes" : "no"},
      {"harden-dnssec-stripped:", config.dnssec ? "yes" : "no"},
      {"val-log-level:", "0"},
  };
  for (const auto& [opt, value] : options) {
    if (auto s = setOption(ctx, opt, value); !s) {
      return fail(s.error());
    }
  }
  if (config.dnssec) {
    if (config.trust_anchor_file.empty()) {
      for (const char* ta : kRootTrustAnchors) {
        if (const int rc = ub_ctx_add_ta(ctx, ta); rc != 0) {
          return fail(Error{Errc::Internal, std::string("root trust anchor: ") + ub_strerror(rc)});
        }
      }
    } else if (const int rc = ub_ctx_add_ta_file(ctx, config.trust_anchor_file.c_str()); rc != 0) {
      return fail(Error{Errc::InvalidArgument,
                        "trust_anchor_file " + config.trust_anchor_file + ": " + ub_strerror(rc)});
    }
  } else if (auto s = setOption(ctx, "module-config:", "iterator"); !s) {
    return fail(s.error());
  }
  for (const std::string& server : config.root_servers) {
    const std::string addr = toUnboundAddress(server);
    if (addr.empty()) {
      return fail(Error{Errc::InvalidArgument, "root_servers: bad address " + server});
    }
    if (const int rc = ub_ctx_set_stub(ctx, ".", addr.c_str(), 0); rc != 0) {
      return fail(Error{Errc::InvalidArgument,
                        "root_servers " + server + ": " + std::string(ub_strerror(rc))});
    }
  }
  std::unique_ptr<Recursor> r(new Recursor(loop, listener, ctx, config.dnssec));
  const int fd = ub_fd(ctx);
  if (fd < 0) {
    return makeError(Errc::Internal, "libunbound: no fd");
  }
  r->poll_ = new uv_poll_t;
  if (const int rc = uv_poll_init(loop, r->poll_, fd); rc != 0) {
    delete r->poll_;
    r->poll_ = nullptr;
    return makeError(Errc::Io, std::string("uv_poll_init: ") + uv_strerror(rc));
  }
  r->poll_->data = r.get();
  uv_poll_start(r->poll_, UV_READABLE, &Recursor::onPoll);
  return r;
}

Recursor::Recursor(uv_loop_t* /*loop*/, RecursionListener& listener, ub_ctx* ctx, bool dnssec)
    : listener_(listener), ctx_(ctx), dnssec_(dnssec) {}

Recursor::~Recursor() {
  if (poll_ != nullptr) {
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  }
  for (auto& req : requests_) {
    if (req->id >= 0) {
      ub_cancel(ctx_, req->id);
    }
  }
  ub_ctx_delete(ctx_);
}

int Recursor::resolve(const std::string& name, uint16_t qtype, uint64_t cookie) {
  Request* req = nullptr;
  if (!free_.empty()) {
    req = free_.back();
    free_.pop_back();
  } else {
    requests_.push_back(std::make_unique<Request>());
    req = requests_.back().get();
  }
  *req = Request{this, cookie, -1, false};
  int id = -1;
  if (ub_resolve_async(ctx_, name.c_str(), qtype, 1 /* IN */, req, &Recursor::onResult, &id) != 0) {
    free_.push_back(req);
    return -1;
  }
  req->id = id;
  ++in_flight_;
  return id;
}

void Recursor::cancel(int id) {
  for (auto& req : requests_) {
    if (req->id == id && !req->cancelled) {
      req->cancelled = true;
      // ub_cancel drops the callback; the request is free again.
      if (ub_cancel(ctx_, id) == 0) {
        req->id = -1;
        --in_flight_;
        free_.push_back(req.get());
      }
      return;
    }
  }
}

void Recursor::onPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<Recursor*>(handle->data);
  if (self == nullptr || status < 0) {
    return;
  }
  ub_process(self->ctx_);
}

void Recursor::onResult(void* data, int err, ub_result* result) {
  auto* req = static_cast<Request*>(data);
  Recursor* self = req->owner;
  const bool cancelled = req->cancelled;
  const uint64_t cookie = req->cookie;
  req->id = -1;
  --self->in_flight_;
  self->free_.push_back(req);
  RecursionAnswer a;
  if (err == 0 && result != nullptr && result->answer_packet != nullptr && result->answer_len > 0) {
    a.ok = true;
    a.packet = std::span<const uint8_t>(static_cast<const uint8_t*>(result->answer_packet),
                                        static_cast<size_t>(result->answer_len));
    if (result->bogus != 0) {
      a.security = Security::Bogus;
      a.why_bogus = result->why_bogus != nullptr ? result->why_bogus : "";
    } else if (result->secure != 0) {
      a.security = Security::Secure;
    }
  }
  if (!cancelled) {
    self->listener_.onRecursionDone(cookie, a);
  }
  if (result != nullptr) {
    ub_resolve_free(result);
  }
}

}  // namespace steadfast::recursion
