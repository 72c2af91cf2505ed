// SPDX-License-Identifier: Apache-2.0
#include "resolver/app/crisis_control.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>
#include <utility>

#include "resolver/base/log.h"
#include "resolver/io/http_client.h"

namespace steadfast::app {
namespace {

using failover::CrisisMode;
using failover::DirectiveResult;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::string errnoText(const std::string& what, const std::string& path) {
  return path + ": " + what + ": " + std::strerror(errno);
}

}  // namespace

Result<std::optional<io::Ed25519PublicKey>> loadDirectiveKey(const failover::CrisisConfig& c) {
  if (c.directive_url.empty()) {
    return std::optional<io::Ed25519PublicKey>{};
  }
  auto key = io::Ed25519PublicKey::fromPemFile(c.directive_public_key);
  if (!key) {
    return makeError(key.error().code, "[crisis] directive_public_key '" + c.directive_public_key +
                                           "': " + key.error().detail);
  }
  return std::optional<io::Ed25519PublicKey>{std::move(*key)};
}

Result<std::string> fetchDirectiveAny(const std::string& url) {
  if (url.rfind("https://", 0) != 0) {
    return fetchFileUrl(url);
  }
  io::HttpRequest request;
  request.url = url;
  request.max_body_bytes = kMaxDirectiveFetchBytes;
  request.connect_timeout = std::chrono::seconds(10);
  request.total_timeout = std::chrono::seconds(30);
  auto response = io::fetchHttps(request);
  if (!response) {
    return makeError(response.error().code, url + ": " + response.error().detail);
  }
  if (response->status != 200) {
    return makeError(Errc::Io, url + ": HTTP status " + std::to_string(response->status));
  }
  return std::move(response->body);
}

Status writeFileAtomic(const std::string& path, const std::string& body) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return makeError(Errc::Io, errnoText("cannot create", tmp));
  }
  size_t done = 0;
  while (done < body.size()) {
    const ssize_t n = ::write(fd, body.data() + done, body.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      auto e = errnoText("cannot write", tmp);
      ::close(fd);
      return makeError(Errc::Io, e);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto e = errnoText("cannot fsync", tmp);
    ::close(fd);
    return makeError(Errc::Io, e);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return makeError(Errc::Io, errnoText("cannot rename to " + path, tmp));
  }
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Ok{};
}

CrisisControl::CrisisControl(HealthControl& health, FetchFn fetch)
    : health_(health), fetch_(std::move(fetch)) {}

CrisisControl::~CrisisControl() {
  stop();
}

Status CrisisControl::load(const failover::CrisisConfig& config, const std::string& state_dir) {
  config_ = config;
  auto key = loadDirectiveKey(config);
  if (!key) {
    return Unexpected<Error>{key.error()};
  }
  key_ = std::move(*key);
  state_path_ = state_dir + "/crisis.json";
  failover::CrisisPersisted restored;
  std::ifstream in(state_path_, std::ios::binary);
  if (in) {
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = failover::parseCrisisState(text.str());
    if (!parsed) {
      return makeError(Errc::InvalidArgument,
                       state_path_ + ": " + parsed.error().detail +
                           " (fix or remove the file: it holds the crisis mode state)");
    }
    restored = std::move(*parsed);
    written_ = text.str();
  } else if (errno != ENOENT) {
    return makeError(Errc::Io, errnoText("cannot read", state_path_));
  }
  std::lock_guard lock(mu_);
  state_ = std::make_unique<failover::CrisisState>(config.mode, restored, clock_);
  if (written_.empty()) {  // no file: written on the first change only
    written_ = failover::serializeCrisis(state_->persisted());
  }
  (void)state_->tick();
  const bool union_only = state_->effective() == CrisisMode::UnionOnly;
  health_.startUnionOnly(union_only);
  if (union_only || state_->source() != failover::CrisisSource::Config) {
    LOG_INFO("crisis mode %s (by %s) at start",
             std::string(failover::crisisModeName(state_->effective())).c_str(),
             std::string(failover::crisisSourceName(state_->source())).c_str());
  }
  persistLocked();
  return Ok{};
}

void CrisisControl::start() {
  if (config_.directive_url.empty() || !key_ || thread_.joinable()) {
    return;
  }
  thread_ = std::thread([this] { threadMain(); });
}

void CrisisControl::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void CrisisControl::threadMain() {
  for (;;) {
    poll();
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, config_.directive_interval, [this] { return stop_; })) {
      return;
    }
  }
}

void CrisisControl::poll() {
  // Fetch without the lock (it may block for seconds), then decide under it.
  std::map<std::string, Result<std::string>> fetched;
  const std::string& url = config_.directive_url;
  fetched.emplace(url, fetch_(url));
  if (fetched.at(url)) {
    fetched.emplace(url + ".sig", fetch_(url + ".sig"));
  }
  const FetchFn cached = [&fetched](const std::string& u) -> Result<std::string> {
    auto it = fetched.find(u);
    if (it == fetched.end()) {
      return makeError(Errc::Io, u + ": not fetched");
    }
    return it->second;
  };
  std::lock_guard lock(mu_);
  if (stop_) {
    return;
  }
  DirectiveCheck check = checkDirective(url, *key_, cached, *state_);
  ++results_[static_cast<size_t>(check.result)];
  const std::string result(failover::directiveResultName(check.result));
  if (check.result == DirectiveResult::Accepted) {
    const auto& d = state_->activeDirective();
    LOG_INFO("crisis directive %s: accepted (mode %s, issuer '%s', expires at %lld)", url.c_str(),
             d ? std::string(failover::crisisModeName(d->mode)).c_str() : "?",
             d ? d->issuer.c_str() : "", d ? static_cast<long long>(d->expiresAt) : 0LL);
  } else if (check.result == DirectiveResult::Replayed) {
    // The same directive polled again: normal while it is in force.
    LOG_DEBUG("crisis directive %s: %s: %s", url.c_str(), result.c_str(), check.detail.c_str());
  } else {
    LOG_WARN("crisis directive %s: %s: %s", url.c_str(), result.c_str(), check.detail.c_str());
  }
  afterChangeLocked(check.change);
}

void CrisisControl::afterChangeLocked(const std::optional<failover::CrisisChange>& change) {
  persistLocked();
  if (change) {
    // HealthControl logs "crisis mode MODE (by WHO)" and publishes the plan.
    (void)health_.setUnionOnly(change->to == CrisisMode::UnionOnly, change->who);
  }
}

void CrisisControl::persistLocked() {
  std::string body = failover::serializeCrisis(state_->persisted());
  if (body == written_) {
    return;
  }
  if (auto w = writeFileAtomic(state_path_, body); !w) {
    LOG_ERROR("crisis state not saved (a restart will not remember it): %s",
              w.error().detail.c_str());
    return;
  }
  written_ = std::move(body);
}

CrisisControl::Answer CrisisControl::setOperator(CrisisMode m, const std::string& who) {
  std::lock_guard lock(mu_);
  if (state_ == nullptr) {
    return Answer{503, R"({"error":"crisis mode is not running"})"};
  }
  const auto change = state_->setOperator(m, who);
  if (!change && state_->effective() != m) {
    LOG_INFO("crisis operator mode %s (by %s); a directive keeps mode %s until it expires",
             std::string(failover::crisisModeName(m)).c_str(), who.c_str(),
             std::string(failover::crisisModeName(state_->effective())).c_str());
  }
  afterChangeLocked(change);
  std::string json = "{\"mode\":\"" + std::string(failover::crisisModeName(state_->effective())) +
                     "\",\"source\":\"" +
                     std::string(failover::crisisSourceName(state_->source())) +
                     "\",\"operator_mode\":\"" + std::string(failover::crisisModeName(m)) +
                     "\",\"changed\":" + (change ? "true" : "false") + "}";
  return Answer{200, std::move(json)};
}

CrisisMode CrisisControl::effective() const {
  std::lock_guard lock(mu_);
  return state_ == nullptr ? config_.mode : state_->effective();
}

void CrisisControl::appendMetrics(std::vector<MetricFamily>& out) const {
  std::lock_guard lock(mu_);
  const CrisisMode now = state_ == nullptr ? config_.mode : state_->effective();
  MetricFamily mode;
  mode.name = "steadfast_crisis_mode";
  mode.help = "1 for the crisis mode in effect (auto or union-only), 0 for the other.";
  mode.type = MetricType::Gauge;
  for (CrisisMode m : {CrisisMode::Auto, CrisisMode::UnionOnly}) {
    ClientMetric c;
    c.label = {ClientMetric::Label{"mode", std::string(failover::crisisModeName(m))}};
    c.gauge.value = m == now ? 1.0 : 0.0;
    mode.metric.push_back(std::move(c));
  }
  out.push_back(std::move(mode));
  MetricFamily results;
  results.name = "steadfast_crisis_directives_total";
  results.help = "Polls of the signed crisis directive by result.";
  results.type = MetricType::Counter;
  for (size_t r = 0; r < failover::kDirectiveResultCount; ++r) {
    ClientMetric c;
    c.label = {ClientMetric::Label{
        "result", std::string(failover::directiveResultName(static_cast<DirectiveResult>(r)))}};
    c.counter.value = static_cast<double>(results_[r]);
    results.metric.push_back(std::move(c));
  }
  out.push_back(std::move(results));
}

}  // namespace steadfast::app
