#include "util/file.hpp"

#include <algorithm>
#include <cerrno>
#include <utility>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

namespace modelkit::util {
namespace {

Error errno_error(std::string_view what, const std::filesystem::path& p, int err) {
  return failure(std::string(what) + " " + quoted(p) + ": " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

Result<std::string> read_fd(int fd, const std::filesystem::path& path, std::uint64_t offset, std::uint64_t count) {
  std::string out;
  out.resize(count);
  std::uint64_t done = 0;
  while (done < count) {
    ssize_t n = ::pread(fd, out.data() + done, count - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read", path, errno);
    }
    if (n == 0) break;
    done += static_cast<std::uint64_t>(n);
  }
  out.resize(done);
  return out;
}

}  // namespace

// O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore it.
Result<void> check_regular(int fd, const std::filesystem::path& path, struct stat& st) {
  if (::fstat(fd, &st) != 0) return errno_error("cannot read", path, errno);
  if (S_ISDIR(st.st_mode)) return failure("cannot read " + quoted(path) + ": is a folder, expected a file");
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "not a regular file";
    return failure("cannot read " + quoted(path) + ": is " + kind + ", expected a file");
  }
  return {};
}

Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return errno_error("cannot read", path, errno);
  struct stat st {};
  MODELKIT_TRY_VOID(check_regular(fd.get(), path, st));
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > max_bytes)
    return failure(quoted(path) + " is " + std::to_string(size) + " bytes, more than the " +
                   std::to_string(max_bytes) + " allowed");
  return read_fd(fd.get(), path, 0, size);
}

Result<std::string> read_file_range(const std::filesystem::path& path, std::uint64_t offset, std::uint64_t count) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return errno_error("cannot read", path, errno);
  struct stat st {};
  MODELKIT_TRY_VOID(check_regular(fd.get(), path, st));
  return read_fd(fd.get(), path, offset, count);
}

Result<LineReader> LineReader::open(const std::filesystem::path& path) {
  LineReader r;
  r.path_ = path;
  r.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (r.fd_ < 0) return errno_error("cannot read", path, errno);
  struct stat st {};
  MODELKIT_TRY_VOID(check_regular(r.fd_, path, st));
  return r;
}

LineReader::LineReader(LineReader&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), buffer_(std::move(o.buffer_)), pos_(o.pos_),
      line_number_(o.line_number_), eof_(o.eof_) {}

LineReader& LineReader::operator=(LineReader&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    buffer_ = std::move(o.buffer_);
    pos_ = o.pos_;
    line_number_ = o.line_number_;
    eof_ = o.eof_;
  }
  return *this;
}

LineReader::~LineReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<bool> LineReader::fill() {
  constexpr std::size_t kChunk = 64 * 1024;
  buffer_.erase(0, pos_);
  pos_ = 0;
  if (eof_) return false;
  const std::size_t old = buffer_.size();
  buffer_.resize(old + kChunk);
  for (;;) {
    ssize_t n = ::read(fd_, buffer_.data() + old, kChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      buffer_.resize(old);
      return errno_error("cannot read", path_, errno);
    }
    buffer_.resize(old + static_cast<std::size_t>(n));
    if (n == 0) eof_ = true;
    return n > 0;
  }
}

Result<std::optional<LineReader::Line>> LineReader::next(std::size_t max_line_bytes) {
  Line line;
  bool any = false;
  for (;;) {
    if (pos_ == buffer_.size()) {
      MODELKIT_TRY(bool more, fill());
      if (!more) break;
    }
    any = true;
    auto nl = buffer_.find('\n', pos_);
    std::size_t end = nl == std::string::npos ? buffer_.size() : nl;
    std::size_t take = end - pos_;
    if (line.text.size() < max_line_bytes + 1)  // one byte past the limit says whether it was cut
      line.text.append(buffer_, pos_, std::min(take, max_line_bytes + 1 - line.text.size()));
    line.full_bytes += take;
    pos_ = end;
    if (nl != std::string::npos) {
      ++pos_;
      break;
    }
  }
  if (!any) return std::optional<Line>{};
  line.number = ++line_number_;
  if (!line.cut() && !line.text.empty() && line.text.back() == '\r') {
    line.text.pop_back();
    --line.full_bytes;
  }
  if (line.text.size() > max_line_bytes) {
    // Cut before a UTF-8 continuation byte so the kept text stays valid.
    std::size_t cut = max_line_bytes;
    while (cut > 0 && (static_cast<unsigned char>(line.text[cut]) & 0xC0) == 0x80) --cut;
    line.text.resize(cut);
  }
  return std::optional<Line>{std::move(line)};
}

Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  std::string tmpl = path.string() + ".tmp-XXXXXX";
  int raw = ::mkstemp(tmpl.data());
  if (raw < 0) return errno_error("cannot write", path, errno);
  Fd fd(raw);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(tmpl.c_str());
      return errno_error("cannot write", path, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::fchmod(fd.get(), 0644) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return errno_error("cannot write", path, err);
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return errno_error("cannot write", path, err);
  }
  return {};
}

}  // namespace modelkit::util
