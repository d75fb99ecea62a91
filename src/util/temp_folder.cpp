#include "util/temp_folder.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace modelkit::util {
namespace fs = std::filesystem;
namespace {

// Live temporary folders, readable from a signal handler: fixed storage, no allocation.
constexpr int kSlots = 8;
constexpr std::size_t kPathBytes = 4096;
struct Slot {
  std::atomic<bool> used{false};
  char path[kPathBytes] = {};
};
std::array<Slot, kSlots> g_slots;

int claim_slot(const std::string& path) {
  if (path.size() >= kPathBytes) return -1;
  for (int i = 0; i < kSlots; ++i) {
    auto& s = g_slots[static_cast<std::size_t>(i)];
    if (s.used.load()) continue;
    std::memcpy(s.path, path.c_str(), path.size() + 1);
    s.used.store(true);
    return i;
  }
  return -1;  // more than kSlots at once: still removed on normal exits, not from a signal
}

void free_slot(int slot) {
  if (slot >= 0) g_slots[static_cast<std::size_t>(slot)].used.store(false);
}

// Removes the entries of directory `fd` and below with system calls only (getdents64,
// unlinkat, openat): async-signal-safe, unlike opendir (malloc) or std::filesystem.
void remove_contents(int fd, int depth) noexcept {
  alignas(8) char buf[4096];
  for (;;) {
    long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) return;
    bool removed_any = false;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      if (::unlinkat(fd, name, 0) == 0) {
        removed_any = true;
        continue;
      }
      if ((errno == EISDIR || errno == EPERM) && depth < 8) {
        int child = ::openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child >= 0) {
          remove_contents(child, depth + 1);
          ::close(child);
        }
        if (::unlinkat(fd, name, AT_REMOVEDIR) == 0) removed_any = true;
      }
    }
    // Entries were removed while reading: start over from the beginning.
    if (removed_any) ::lseek(fd, 0, SEEK_SET);
  }
}

// The pid in ".NAME.tmp-<pid>-XXXXXX", or -1.
pid_t owner_of(const std::string& name, const std::string& prefix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  std::size_t i = prefix.size();
  long long pid = 0;
  std::size_t digits = 0;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && digits < 10; ++i, ++digits)
    pid = pid * 10 + (name[i] - '0');
  if (digits == 0 || i >= name.size() || name[i] != '-') return -1;
  return static_cast<pid_t>(pid);
}

std::string prefix_for(const fs::path& target) { return "." + target.filename().string() + ".tmp-"; }

fs::path parent_of(const fs::path& target) {
  return target.parent_path().empty() ? fs::path(".") : target.parent_path();
}

mode_t current_umask() {
  mode_t mask = ::umask(0);  // the only way to read it; set back at once
  ::umask(mask);
  return mask;
}

}  // namespace

TempFolder::~TempFolder() {
  if (!path_.empty()) {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  free_slot(slot_);
}

Result<void> TempFolder::create_beside(const fs::path& target) {
  const fs::path parent = parent_of(target);
  // A missing parent is created, as mkdir -p would (the quick start's -o build/demo/x).
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) {
    if (fs::exists(parent, ec))
      return failure("cannot create the folder '" + parent.string() + "': a file of that name is in the way");
    fs::create_directories(parent, ec);
    if (ec) return failure("cannot create the folder '" + parent.string() + "': " + ec.message());
  }
  std::string tmpl = (parent / (prefix_for(target) + std::to_string(::getpid()) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return failure("cannot create a temporary folder in '" + parent.string() + "': " + std::strerror(errno));
  path_ = tmpl;
  slot_ = claim_slot(tmpl);
  if (::chmod(tmpl.c_str(), 0777 & ~current_umask()) != 0)
    return failure("cannot set the permissions of '" + tmpl + "': " + std::strerror(errno));
  return {};
}

void TempFolder::release() {
  path_.clear();
  free_slot(slot_);
  slot_ = -1;
}

std::size_t remove_stale_temporaries(const fs::path& target) {
  const std::string prefix = prefix_for(target);
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent_of(target), ec)) {
    const std::string name = e.path().filename().string();
    pid_t pid = owner_of(name, prefix);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    std::error_code rm;
    if (fs::remove_all(e.path(), rm) > 0 && !rm) ++removed;
  }
  return removed;
}

void remove_temporaries_in_signal_handler() noexcept {
  for (auto& s : g_slots) {
    if (!s.used.load()) continue;
    int fd = ::open(s.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      remove_contents(fd, 0);
      ::close(fd);
    }
    ::rmdir(s.path);
  }
}

}  // namespace modelkit::util
