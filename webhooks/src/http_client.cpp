// The webhook HTTP client on Boost.Beast (the only webhook file that includes
// Beast: it is slow to compile).
#include "souk/webhooks/http_client.hpp"

#include "souk/version.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace souk::webhooks {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// One request: resolve, connect, write, read the response header. The status is
// all a delivery needs, so the body is never read; the connection then closes.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(net::io_context& ioc, const PostRequest& request, PostOutcome& outcome)
      : resolver_(ioc), socket_(ioc), deadline_(ioc), outcome_(outcome), started_(Clock::now()) {
    const auto& url = request.url;
    request_.method(http::verb::post);
    request_.target(url.target);
    request_.version(11);
    request_.set(http::field::host, url.host_header);
    request_.set(http::field::user_agent, std::string("souk-live/") + souk::version);
    request_.set(http::field::connection, "close");
    for (const auto& [name, value] : request.headers) request_.set(name, value);
    request_.body() = request.body;
    request_.prepare_payload();
    parser_.header_limit(16 * 1024);
    host_ = url.host;
    port_ = std::to_string(url.port);
  }

  void start(std::chrono::milliseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;  // finished first
      self->finish({}, "timed out");
    });
    resolver_.async_resolve(host_, port_,
                            [self = shared_from_this()](boost::system::error_code ec,
                                                        const tcp::resolver::results_type& results) {
                              self->on_resolve(ec, results);
                            });
  }

  // Shutdown: the request neither succeeded nor failed.
  void abort() { finish({}, "cancelled", true); }

 private:
  void on_resolve(boost::system::error_code ec, const tcp::resolver::results_type& results) {
    if (done_) return;
    if (ec) return finish({}, "resolve: " + ec.message());
    net::async_connect(socket_, results,
                       [self = shared_from_this()](boost::system::error_code e, const tcp::endpoint&) {
                         self->on_connect(e);
                       });
  }

  void on_connect(boost::system::error_code ec) {
    if (done_) return;
    if (ec) return finish({}, "connect: " + ec.message());
    http::async_write(socket_, request_,
                      [self = shared_from_this()](boost::system::error_code e, std::size_t) {
                        self->on_write(e);
                      });
  }

  void on_write(boost::system::error_code ec) {
    if (done_) return;
    if (ec) return finish({}, "send: " + ec.message());
    http::async_read_header(socket_, buffer_, parser_,
                            [self = shared_from_this()](boost::system::error_code e, std::size_t) {
                              self->on_read(e);
                            });
  }

  void on_read(boost::system::error_code ec) {
    if (done_) return;
    if (ec) return finish({}, "response: " + ec.message());
    finish(static_cast<int>(parser_.get().result_int()), {});
  }

  // The first of: the answer, an error, the deadline, abort().
  void finish(std::optional<int> status, std::string error, bool cancelled = false) {
    if (done_) return;
    done_ = true;
    outcome_.status = status;
    outcome_.error = std::move(error);
    outcome_.cancelled = cancelled;
    outcome_.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
    deadline_.cancel();
    resolver_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::resolver resolver_;
  tcp::socket socket_;
  net::steady_timer deadline_;
  http::request<http::string_body> request_;
  http::response_parser<http::empty_body> parser_;
  boost::beast::flat_buffer buffer_;
  std::string host_, port_;
  PostOutcome& outcome_;
  Clock::time_point started_;
  bool done_ = false;
};

}  // namespace

struct HttpPoster::Impl {
  net::io_context ioc{1};
  std::atomic<bool> cancelled{false};
};

HttpPoster::HttpPoster() : impl_(std::make_unique<Impl>()) {}
HttpPoster::~HttpPoster() = default;

std::vector<PostOutcome> HttpPoster::post_all(const std::vector<PostRequest>& requests,
                                              std::chrono::milliseconds timeout) {
  std::vector<PostOutcome> outcomes(requests.size());
  for (auto& o : outcomes) {
    o.cancelled = true;
    o.error = "cancelled";
  }
  auto& ioc = impl_->ioc;
  ioc.restart();
  // After restart(): a cancel() from now on stops run() below; one before it is seen here.
  if (impl_->cancelled.load()) return outcomes;
  std::vector<std::weak_ptr<Exchange>> exchanges;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto exchange = std::make_shared<Exchange>(ioc, requests[i], outcomes[i]);
    exchange->start(timeout);
    exchanges.push_back(exchange);
  }
  ioc.run();
  if (impl_->cancelled.load()) {
    // Stopped midway: abort what is left (every operation then completes at
    // once, aborted) and let their handlers run, so none outlives `outcomes`.
    for (auto& weak : exchanges) {
      if (auto exchange = weak.lock()) exchange->abort();
    }
    ioc.restart();
    ioc.run();
  }
  return outcomes;
}

void HttpPoster::cancel() {
  impl_->cancelled.store(true);
  impl_->ioc.stop();
}

}  // namespace souk::webhooks
