// fake_provider: the fake MessageFlow/SMSAPI/Twilio server as a program, for e2e tests and
// benchmarks that run the bridge as a separate process. Prints the bound port on stdout (and
// to --port-file, written atomically) once it accepts connections; exits 0 on SIGTERM/SIGINT.

#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/log.h"
#include "tests/fakes/fake_provider_server.h"

namespace {

using smsbridge::configError;
using smsbridge::Result;
using smsbridge::Status;
using namespace smsbridge::testing;

Status parseListen(const std::string& listen, FakeProviderOptions& options) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return configError("--listen wants HOST:PORT");
  options.listen_address = listen.substr(0, colon);
  int port = -1;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (port < 0 || port > 65535) return configError("--listen has a bad port in '" + listen + "'");
  options.port = static_cast<uint16_t>(port);
  return Status::ok();
}

// messageflow=AUTHORIZATION:APPLICATION_KEY | smsapi=TOKEN | twilio=ACCOUNT_SID:AUTH_TOKEN
Status parseCredentials(const std::string& spec, FakeCredentials& credentials) {
  size_t eq = spec.find('=');
  auto api = parseFakeApi(spec.substr(0, eq));
  if (eq == std::string::npos || !api) {
    return configError(
        "--credentials wants <api>=<secrets>, api one of messageflow, smsapi, twilio");
  }
  std::string value = spec.substr(eq + 1);
  size_t colon = value.find(':');
  if (*api == FakeApi::kSmsapi) {
    credentials.smsapi_token = value;
    return Status::ok();
  }
  if (colon == std::string::npos) {
    return configError("--credentials " + std::string(fakeApiName(*api)) + " wants A:B");
  }
  if (*api == FakeApi::kMessageFlow) {
    credentials.messageflow_authorization = value.substr(0, colon);
    credentials.messageflow_application_key = value.substr(colon + 1);
  } else {
    credentials.twilio_account_sid = value.substr(0, colon);
    credentials.twilio_auth_token = value.substr(colon + 1);
  }
  return Status::ok();
}

Status parseFaults(const std::vector<std::string>& specs, FakeProviderOptions& options) {
  for (const auto& spec : specs) {
    size_t eq = spec.find('=');
    auto api = parseFakeApi(spec.substr(0, eq));
    if (eq == std::string::npos || !api) {
      return configError("--fault wants <api>=<fault>, e.g. twilio=503,count=3");
    }
    auto fault = parseFault(spec.substr(eq + 1));
    if (!fault) return fault.error();
    options.faults[*api] = *fault;
  }
  return Status::ok();
}

Status parseDurationInto(const std::string& text, std::chrono::milliseconds& out) {
  if (text.empty()) return Status::ok();
  auto d = parseDuration(text);
  if (!d) return d.error();
  out = *d;
  return Status::ok();
}

// Readers poll for the file; a rename means they never see it half written.
Status writePortFile(const std::string& path, uint16_t port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) return configError("cannot write the port file '" + path + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return configError("cannot write the port file '" + path + "': " + ec.message());
  return Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fake MessageFlow, SMSAPI and Twilio send APIs for tests and benchmarks"};
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  std::string latency;
  std::string dlr_delay;
  std::vector<std::string> faults;
  std::vector<std::string> credentials;
  std::string log_level = "info";
  FakeProviderOptions options;
  app.add_option("--listen", listen, "HOST:PORT to bind; port 0 picks a free one");
  app.add_option("--port-file", port_file, "write the bound port here");
  app.add_option("--ledger", options.ledger_path, "JSON-lines ledger of every request");
  app.add_option("--latency", latency, "added to every answer, e.g. 50ms");
  app.add_option("--mps", options.mps, "messages per second per sender; 0 = unlimited");
  app.add_option("--fault", faults, "api=kind[,count=N][,retry_after=DUR][,delay=DUR]");
  app.add_option("--dlr-delay", dlr_delay, "delay before delivery reports, e.g. 200ms");
  app.add_option("--dlr-status", options.dlr_status,
                 "delivered | undelivered | expired | failed, or a sequence: sent,delivered");
  app.add_flag("--smsapi-dlr-post", options.smsapi_dlr_post,
               "send SMSAPI reports as POST forms instead of GET");
  app.add_option("--credentials", credentials,
                 "messageflow=AUTH:APPKEY | smsapi=TOKEN | twilio=SID:TOKEN");
  std::vector<std::string> invalid_numbers;
  app.add_option("--invalid-number", invalid_numbers, "a number every API rejects");
  app.add_option("--threads", options.threads, "server threads")->check(CLI::Range(1, 64));
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  CLI11_PARSE(app, argc, argv);

  Status status = smsbridge::setupLogging(log_level, smsbridge::LogFormat::kText);
  if (status.isOk()) status = parseListen(listen, options);
  if (status.isOk()) status = parseFaults(faults, options);
  for (const auto& c : credentials) {
    if (status.isOk()) status = parseCredentials(c, options.credentials);
  }
  if (status.isOk()) status = parseDurationInto(latency, options.latency);
  if (status.isOk()) status = parseDurationInto(dlr_delay, options.dlr_delay);
  for (const auto& n : invalid_numbers) {
    std::string digits;
    for (char ch : n) {
      if (ch >= '0' && ch <= '9') digits += ch;
    }
    options.invalid_numbers.insert(digits);
  }
  // A file-backed ledger is for long runs; keeping it in memory too would only grow.
  options.ledger_in_memory = options.ledger_path.empty();
  if (!status.isOk()) {
    std::cerr << "fake_provider: " << status.message() << "\n";
    return 2;
  }

  // Blocked before the server threads start, so they inherit the mask and sigwait() below is
  // the only place these signals arrive.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = FakeProviderServer::start(options);
  if (!server) {
    std::cerr << "fake_provider: " << server.error().message() << "\n";
    return 1;
  }
  uint16_t port = (*server)->port();
  if (!port_file.empty()) {
    Status written = writePortFile(port_file, port);
    if (!written.isOk()) {
      std::cerr << "fake_provider: " << written.message() << "\n";
      return 1;
    }
  }
  std::cout << port << std::endl;
  spdlog::info("Fake provider listening. address={} port={} threads={}", options.listen_address,
               port, options.threads);

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("Fake provider stopping. signal={}", received);
  (*server)->stop();
  return 0;
}
