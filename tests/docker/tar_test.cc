// The ustar writer, checked byte by byte and by the system's tar. No daemon needed.
#include "docker/tar.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace phaedo::docker {
namespace {

std::string field(const std::string& tar, std::size_t offset, std::size_t width) {
  std::string f = tar.substr(offset, width);
  return f.substr(0, f.find('\0'));
}

unsigned checksum_of(std::string header) {
  for (std::size_t i = 148; i < 156; ++i) header[i] = ' ';
  unsigned sum = 0;
  for (unsigned char c : header.substr(0, 512)) sum += c;
  return sum;
}

TEST(TarWriter, OneFileHeaderAndPadding) {
  Result<std::string> tar = tar_one_file("job.sh", "#!/bin/sh\necho hi\n", 0755);
  ASSERT_TRUE(tar.ok()) << tar.error().message;
  ASSERT_EQ(tar->size(), 512u + 512u + 1024u);  // header, one padded block, end marker
  EXPECT_EQ(field(*tar, 0, 100), "job.sh");
  EXPECT_EQ(field(*tar, 100, 8), "0000755");
  EXPECT_EQ(field(*tar, 124, 12), "00000000022");  // 18 bytes
  EXPECT_EQ((*tar)[156], '0');
  EXPECT_EQ(tar->substr(257, 8), std::string("ustar\0"
                                             "00",
                                             8));
  EXPECT_EQ(std::stoul(field(*tar, 148, 8), nullptr, 8), checksum_of(*tar));
  EXPECT_EQ(tar->substr(512, 18), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(tar->find_first_not_of('\0', 512 + 18), std::string::npos);
}

TEST(TarWriter, LongPathsUseThePrefixField) {
  const std::string dir(120, 'd');
  TarWriter w;
  ASSERT_TRUE(w.add(TarEntry{dir + "/file.txt", EntryType::file, "x", 0600}).ok());
  std::string tar = std::move(w).finish();
  EXPECT_EQ(field(tar, 0, 100), "file.txt");
  EXPECT_EQ(field(tar, 345, 155), dir);
}

TEST(TarWriter, RejectsWhatUstarCannotHold) {
  TarWriter w;
  EXPECT_EQ(w.add(TarEntry{std::string(300, 'a'), EntryType::file, "", 0644}).error().kind,
            ErrorKind::invalid_input);
  EXPECT_EQ(w.add(TarEntry{"/abs", EntryType::file, "", 0644}).error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(w.add(TarEntry{"f", EntryType::file, "", 010000}).error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(w.add(TarEntry{"l", EntryType::symlink, std::string(101, 't'), 0777}).error().kind,
            ErrorKind::invalid_input);
}

// GNU tar (always on Debian) must list what we wrote, with types and modes.
TEST(TarWriter, SystemTarReadsIt) {
  if (::access("/bin/tar", X_OK) != 0) GTEST_SKIP() << "no /bin/tar";
  TarWriter w;
  ASSERT_TRUE(w.add(TarEntry{"bin", EntryType::directory, "", 0755}).ok());
  ASSERT_TRUE(w.add(TarEntry{"bin/tool", EntryType::file, std::string(1000, 'z'), 04755}).ok());
  ASSERT_TRUE(w.add(TarEntry{"bin/alias", EntryType::symlink, "tool", 0777}).ok());
  ASSERT_TRUE(w.add(TarEntry{std::string(110, 'p') + "/deep", EntryType::file, "d", 0640}).ok());
  std::string tar = std::move(w).finish();
  char path[] = "/tmp/phaedo-tar-test-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, tar.data(), tar.size()), static_cast<ssize_t>(tar.size()));
  ::close(fd);
  std::string listing;
  FILE* p = ::popen(("/bin/tar -tvf " + std::string(path) + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) listing += buf;
  int rc = ::pclose(p);
  ::unlink(path);
  ASSERT_EQ(rc, 0) << listing;
  EXPECT_NE(listing.find("drwxr-xr-x"), std::string::npos) << listing;
  EXPECT_NE(listing.find("-rwsr-xr-x"), std::string::npos) << listing;
  EXPECT_NE(listing.find(" 1000 "), std::string::npos) << listing;
  EXPECT_NE(listing.find("bin/alias -> tool"), std::string::npos) << listing;
  EXPECT_NE(listing.find(std::string(110, 'p') + "/deep"), std::string::npos) << listing;
}

}  // namespace
}  // namespace phaedo::docker
