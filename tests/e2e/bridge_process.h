#pragma once

// The smsbridge binary as e2e tests drive it: `setup` on a written config, then `run` in the
// background until the test has seen what it waits for, then SIGTERM, as a service manager
// stops it. Failures carry the command's log, so a red test says what the bridge said.

#include <signal.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/e2e/process.h"

namespace smsbridge::testing {

// The config of the shipped-orders scenario several e2e tests run over different sources: one
// mapping texts "Hi <name>, order <id> shipped" to an order's phone when its status becomes
// 'shipped', through a sandbox provider that reports delivery after `delivery_delay`. `shop` is
// the shop source as a YAML flow mapping ("{type: postgres, dsn: ...}"); the store lives in it,
// under `prefix`.
inline std::string shippedOrdersConfig(const std::string& shop, const std::string& prefix,
                                       const std::string& orders,
                                       const std::string& delivery_delay) {
  return "defaults: {region: PL}\n"
         "sources:\n"
         "  shop: " +
         shop + "\nstore: {table_prefix: " + prefix +
         "}\n"
         "providers:\n"
         "  sandbox: {type: sandbox, delivery_delay: " +
         delivery_delay +
         "}\n"
         "routes:\n"
         "  default: [sandbox]\n"
         "mappings:\n"
         "  shipped:\n"
         "    table: " +
         orders +
         "\n"
         "    on: [update]\n"
         "    when: \"status == 'shipped' and old.status != 'shipped'\"\n"
         "    to: \"{{ phone }}\"\n"
         "    text: \"Hi {{ name }}, order {{ id }} shipped\"\n";
}

// `smsbridge <args...>` to completion: {exit code, combined output}; the output stays in `log`.
inline std::pair<int, std::string> runSmsbridge(std::vector<std::string> args,
                                                const std::string& log) {
  args.insert(args.begin(), SMSBRIDGE_BINARY);
  return runToCompletion(std::move(args), log);
}

// `smsbridge setup -c <config> <options...>` to completion, its output kept in `log`.
inline ::testing::AssertionResult setupBridge(const std::string& config, const std::string& log,
                                              const std::vector<std::string>& options = {}) {
  std::vector<std::string> args = {"setup", "-c", config};
  args.insert(args.end(), options.begin(), options.end());
  auto [code, out] = runSmsbridge(std::move(args), log);
  if (code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "smsbridge setup exited with " << code << ":\n" << out;
}

// `smsbridge run -c <config> <options...>` in the background, its output in `log`; killed with
// SIGKILL if the test ends without stopping it.
class BridgeProcess {
 public:
  BridgeProcess(const std::string& config, const std::string& log,
                const std::vector<std::string>& options = {})
      : process_(runArgs(config, options), log) {}

  // SIGTERM, then a clean exit within `timeout`: everything in flight finished or handed back.
  ::testing::AssertionResult stop(std::chrono::seconds timeout = std::chrono::seconds(15)) {
    process_.signal(SIGTERM);
    int code = process_.wait(timeout);
    if (code == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "smsbridge run exited with " << code << " after SIGTERM (-1: still running):\n"
           << process_.output();
  }

  // A crash: SIGKILL, then waits up to `timeout` for it to be gone. Returns what
  // ChildProcess::wait does: 128 + SIGKILL once it is gone.
  int kill(std::chrono::seconds timeout = std::chrono::seconds(15)) {
    process_.signal(SIGKILL);
    return process_.wait(timeout);
  }

  std::string output() const { return process_.output(); }
  ChildProcess& process() { return process_; }

 private:
  static std::vector<std::string> runArgs(const std::string& config,
                                          const std::vector<std::string>& options) {
    std::vector<std::string> args = {SMSBRIDGE_BINARY, "run", "-c", config};
    args.insert(args.end(), options.begin(), options.end());
    return args;
  }

  ChildProcess process_;
};

}  // namespace smsbridge::testing
