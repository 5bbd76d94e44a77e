#pragma once

// Runs the smsbridge binary as a child process, its output captured to a file.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace smsbridge::testing {

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, std::string output_file);
  ~ChildProcess();  // SIGKILLs a child still running

  void signal(int signo);
  // Waits up to `timeout`; returns the exit code, 128+signal when killed, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string output() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string output_file_;
};

// The whole file, or "" when it cannot be read (not written yet).
std::string readFile(const std::string& path);
// Replaces the file's content with `text`.
void writeFile(const std::string& path, const std::string& text);

// Runs to completion; returns {exit code, combined output}.
std::pair<int, std::string> runToCompletion(std::vector<std::string> args,
                                            const std::string& output_file);

// Polls `done` every 50 ms until it holds or `timeout` passes; returns its last answer. For
// conditions only another process can make true; a deadline, never a speed assertion.
bool waitUntil(const std::function<bool()>& done, std::chrono::seconds timeout);

}  // namespace smsbridge::testing
