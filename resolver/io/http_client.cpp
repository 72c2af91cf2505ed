// SPDX-License-Identifier: Apache-2.0
#include "resolver/io/http_client.h"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <curl/curl.h>
#include <fstream>
#include <mutex>
#include <sstream>

#include <uv.h>

namespace steadfast::io {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
    s.remove_suffix(1);
  }
  return s;
}

bool iequalsPrefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) {
    return false;
  }
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  HttpResponse response;
  uint64_t cap = 0;
  bool over_cap = false;
};

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response.body.size() + n > t->cap) {
    t->over_cap = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  t->response.body.append(data, n);
  return n;
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (iequalsPrefix(line, "HTTP/")) {
    // A new response (after a redirect or a 100 Continue): only the last one's headers count.
    t->response.etag.clear();
    t->response.last_modified.clear();
    t->response.content_type.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return n;
  }
  const std::string_view name = trim(line.substr(0, colon));
  const std::string_view value = trim(line.substr(colon + 1));
  auto is = [&](std::string_view want) {
    return name.size() == want.size() && iequalsPrefix(name, want);
  };
  if (is("etag")) {
    t->response.etag = std::string(value);
  } else if (is("last-modified")) {
    t->response.last_modified = std::string(value);
  } else if (is("content-type")) {
    t->response.content_type = std::string(value);
  }
  return n;
}

Errc mapCurl(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return Errc::InvalidArgument;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Errc::ConnectFailed;
    case CURLE_OPERATION_TIMEDOUT:
      return Errc::Timeout;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return Errc::TlsFailed;
    case CURLE_FILESIZE_EXCEEDED:
      return Errc::Truncated;
    default:
      return Errc::Io;
  }
}

struct CurlEasyDeleter {
  void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* s) const noexcept { curl_slist_free_all(s); }
};

}  // namespace

Result<HttpCredentials> parseHttpCredentials(std::string_view text) {
  const std::string_view line = trim(text);
  if (line.find('\n') != std::string_view::npos) {
    return makeError(Errc::InvalidArgument, "credentials: expected one line");
  }
  HttpCredentials c;
  if (iequalsPrefix(line, "bearer ")) {
    c.kind = HttpCredentials::Kind::Bearer;
    c.token = std::string(trim(line.substr(7)));
    if (c.token.empty() || c.token.find_first_of(" \t\r") != std::string::npos) {
      return makeError(Errc::InvalidArgument, "credentials: bearer token empty or has blanks");
    }
    return c;
  }
  if (iequalsPrefix(line, "basic ")) {
    const std::string_view up = trim(line.substr(6));
    const size_t colon = up.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return makeError(Errc::InvalidArgument, "credentials: basic wants USER:PASSWORD");
    }
    c.kind = HttpCredentials::Kind::Basic;
    c.user = std::string(up.substr(0, colon));
    c.password = std::string(up.substr(colon + 1));
    return c;
  }
  return makeError(Errc::InvalidArgument,
                   "credentials: expected `bearer TOKEN` or `basic USER:PASSWORD`");
}

Result<HttpCredentials> loadHttpCredentials(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(Errc::Io, path + ": cannot read credentials file");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto parsed = parseHttpCredentials(ss.str());
  if (!parsed) {
    return makeError(parsed.error().code, path + ": " + parsed.error().detail);
  }
  return parsed;
}

Result<HttpResponse> fetchHttps(const HttpRequest& request) {
  if (!iequalsPrefix(request.url, "https://")) {
    return makeError(Errc::InvalidArgument, "only https:// URLs are fetched: " + request.url);
  }
  if (request.method != "GET" && request.method != "POST") {
    return makeError(Errc::InvalidArgument, "method must be GET or POST");
  }
  globalInit();
  std::unique_ptr<CURL, CurlEasyDeleter> easy(curl_easy_init());
  if (!easy) {
    return makeError(Errc::Internal, "curl_easy_init failed");
  }
  CURL* c = easy.get();
  Transfer t;
  t.cap = request.max_body_bytes;
  char errbuf[CURL_ERROR_SIZE] = {};
  auto ms = [](Nanos d) {
    return static_cast<long>(std::chrono::duration_cast<Millis>(d).count());
  };

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, request.max_redirects > 0 ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, request.max_redirects);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_file.c_str());
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms(request.connect_timeout));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms(request.total_timeout));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(std::min<uint64_t>(request.max_body_bytes, INT64_MAX)));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "steadfast/" STEADFAST_VERSION);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // any encoding curl can decode

  std::vector<std::string> lines = request.headers;
  if (!request.if_none_match.empty()) {
    lines.push_back("If-None-Match: " + request.if_none_match);
  }
  if (!request.if_modified_since.empty()) {
    lines.push_back("If-Modified-Since: " + request.if_modified_since);
  }
  switch (request.credentials.kind) {
    case HttpCredentials::Kind::Bearer:
      lines.push_back("Authorization: Bearer " + request.credentials.token);
      break;
    case HttpCredentials::Kind::Basic:
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(c, CURLOPT_USERNAME, request.credentials.user.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, request.credentials.password.c_str());
      // Credentials go to the host the operator named only, never to a redirect target.
      curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
      break;
    case HttpCredentials::Kind::None:
      break;
  }
  curl_slist* raw = nullptr;
  for (const auto& line : lines) {
    if (line.find_first_of("\r\n") != std::string::npos) {
      curl_slist_free_all(raw);
      return makeError(Errc::InvalidArgument, "header with a line break");
    }
    curl_slist* next = curl_slist_append(raw, line.c_str());
    if (next == nullptr) {
      curl_slist_free_all(raw);
      return makeError(Errc::Internal, "curl_slist_append failed");
    }
    raw = next;
  }
  std::unique_ptr<curl_slist, CurlSlistDeleter> slist(raw);
  if (raw != nullptr) {
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, raw);
  }
  if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }

  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    const std::string what = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
    if (t.over_cap || rc == CURLE_FILESIZE_EXCEEDED) {
      return makeError(Errc::Truncated, request.url + ": body over the cap of " +
                                            std::to_string(request.max_body_bytes) + " bytes");
    }
    return makeError(mapCurl(rc), request.url + ": " + what);
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  char* effective = nullptr;
  curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective);
  t.response.status = status;
  t.response.not_modified = status == 304;
  if (effective != nullptr) {
    t.response.effective_url = effective;
  }
  return std::move(t.response);
}

// ---------------------------------------------------------------------------------------------

struct HttpClient::Job {
  HttpRequest request;
  Callback callback;
  std::unique_ptr<Result<HttpResponse>> result;
};

struct HttpClient::Shared {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> queue;  // waiting to run
  std::deque<Job> done;   // waiting for the loop
  size_t running = 0;
  bool stopping = false;
};

HttpClient::HttpClient(uv_loop_s* loop) : shared_(std::make_shared<Shared>()) {
  globalInit();
  async_ = new uv_async_t{};
  async_->data = this;
  uv_async_init(loop, async_, &HttpClient::onAsync);
  thread_ = std::thread([this] { run(); });
}

HttpClient::~HttpClient() {
  stop();
}

void HttpClient::stop() {
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->stopping && !thread_.joinable()) {
      return;
    }
    shared_->stopping = true;
    shared_->queue.clear();
  }
  shared_->cv.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (async_ != nullptr) {
    async_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(async_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }
  std::lock_guard lock(shared_->mu);
  shared_->done.clear();
}

void HttpClient::submit(HttpRequest request, Callback callback) {
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->stopping) {
      return;
    }
    shared_->queue.push_back(Job{std::move(request), std::move(callback), nullptr});
  }
  shared_->cv.notify_one();
}

size_t HttpClient::pending() const {
  std::lock_guard lock(shared_->mu);
  return shared_->queue.size() + shared_->running + shared_->done.size();
}

void HttpClient::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(shared_->mu);
      shared_->cv.wait(lock, [&] { return shared_->stopping || !shared_->queue.empty(); });
      if (shared_->stopping) {
        return;
      }
      job = std::move(shared_->queue.front());
      shared_->queue.pop_front();
      ++shared_->running;
    }
    job.result = std::make_unique<Result<HttpResponse>>(fetchHttps(job.request));
    {
      std::lock_guard lock(shared_->mu);
      --shared_->running;
      if (shared_->stopping) {
        return;
      }
      shared_->done.push_back(std::move(job));
      uv_async_send(async_);  // thread-safe; async_ lives until after the join in stop()
    }
  }
}

void HttpClient::onAsync(uv_async_s* handle) {
  auto* self = static_cast<HttpClient*>(handle->data);
  if (self == nullptr) {
    return;
  }
  std::deque<Job> ready;
  {
    std::lock_guard lock(self->shared_->mu);
    ready.swap(self->shared_->done);
  }
  for (auto& job : ready) {
    if (job.callback) {
      job.callback(std::move(*job.result));
    }
  }
}

}  // namespace steadfast::io
