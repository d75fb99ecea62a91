// Temporary folders beside an output, where a build writes before it publishes by renaming.
// The folder's name records its owner: ".NAME.tmp-<pid>-XXXXXX". What a process leaves when it
// cannot clean up (SIGKILL, power loss) is removed by the next build to the same output once
// that pid is gone, and a fatal signal handler can remove the live ones of its own process.
#pragma once

#include <modelkit/result.hpp>

#include <filesystem>

namespace modelkit::util {

class TempFolder {
 public:
  TempFolder() = default;
  ~TempFolder();  // removes the folder unless released
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  // Creates ".NAME.tmp-<pid>-XXXXXX" beside `target` (and target's missing parent folders, as
  // mkdir -p), with the permissions a new folder gets
  // under the umask (mkdtemp alone makes it 0700, which publishing would keep).
  [[nodiscard]] Result<void> create_beside(const std::filesystem::path& target);
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  void release();  // the folder was published (renamed): nothing to remove

 private:
  std::filesystem::path path_;
  int slot_ = -1;  // in the table the signal handler reads
};

// Removes ".NAME.tmp-<pid>-*" folders beside `target` whose process no longer runs; returns
// how many. Folders of live processes (another build writing the same output) are kept.
std::size_t remove_stale_temporaries(const std::filesystem::path& target);

// Async-signal-safe: removes every live TempFolder of this process. For a handler that is
// about to _exit on a fatal signal.
void remove_temporaries_in_signal_handler() noexcept;

}  // namespace modelkit::util
