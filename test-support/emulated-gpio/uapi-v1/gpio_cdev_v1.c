/*
 * An LD_PRELOAD library that emulates the Linux GPIO character device, uAPI
 * v1 (the one libgpiod 1.6 speaks: Debian and Raspberry Pi OS bookworm), at
 * the kernel boundary: the unmodified libgpiod2 + python3-libgpiod 1.6.3 run
 * on top of it exactly as on a Raspberry Pi.
 *
 * What it interposes (the symbols `nm -D libgpiod.so.2` imports):
 *   open, stat, lstat, realpath, access  /dev/gpiochipN (and $GPIO_EMU_DIR/dev/gpiochipN)
 *                                        and /sys/bus/gpio/devices/gpiochipN/dev
 *   scandir("/dev")                      adds the emulated chips (glibc's scandir
 *                                        does not go through our lstat, so it is
 *                                        interposed itself)
 *   ioctl                                GPIO_GET_CHIPINFO/LINEINFO/LINEHANDLE/LINEEVENT,
 *                                        GPIOHANDLE_GET/SET_LINE_VALUES, GPIOHANDLE_SET_CONFIG
 *   read, close                          event records (struct gpioevent_data) / release
 *
 * Every chip, line handle and line event request is a real file descriptor:
 * a SOCK_SEQPACKET connection to the emulated kernel (kernel_v1.py, one per
 * test), which keeps the state every process shares (who holds which line,
 * levels, the 16-event queue per event request) and releases a request when
 * its connection closes, as the kernel does when the holder closes the fd,
 * exits or is killed. An event fd is readable (poll/select, no interposing
 * needed) exactly while its queue is non-empty: the kernel sends a one-byte
 * doorbell message whenever the queue has events after a change or a reply.
 *
 * Messages are tab-separated text; replies start with 0 or -errno.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/gpio.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FD 65536
#define MSG 8192
#define GPIO_MAJOR 254

enum { FD_NONE = 0, FD_CHIP, FD_HANDLE, FD_EVENT };

struct tracked {
	unsigned char kind;
	unsigned char lines;
	char chip[32];
};

static struct tracked fds[MAX_FD];

static int (*real_open)(const char *, int, ...);
static int (*real_close)(int);
static int (*real_ioctl)(int, unsigned long, ...);
static ssize_t (*real_read)(int, void *, size_t);
static int (*real_stat)(const char *, struct stat *);
static int (*real_lstat)(const char *, struct stat *);
static char *(*real_realpath)(const char *, char *);
static int (*real_access)(const char *, int);
static int (*real_scandir)(const char *, struct dirent ***, int (*)(const struct dirent *),
			   int (*)(const struct dirent **, const struct dirent **));

#define RESOLVE(name)                                                                              \
	do {                                                                                       \
		if (!real_##name)                                                                  \
			*(void **)(&real_##name) = dlsym(RTLD_NEXT, #name);                        \
	} while (0)

static void resolve_all(void)
{
	RESOLVE(open);
	RESOLVE(close);
	RESOLVE(ioctl);
	RESOLVE(read);
	RESOLVE(stat);
	RESOLVE(lstat);
	RESOLVE(realpath);
	RESOLVE(access);
	RESOLVE(scandir);
}

static const char *emu_dir(void)
{
	const char *dir = getenv("GPIO_EMU_DIR");
	return dir && *dir ? dir : NULL;
}

/* The emulated chip a path names ("gpiochip4"), or NULL. */
static const char *chip_of_dev(const char *path, char *out)
{
	const char *dir = emu_dir();
	const char *base;
	char probe[PATH_MAX];
	if (!dir || !path)
		return NULL;
	if (strncmp(path, "/dev/gpiochip", 13) == 0) {
		base = path + 5;
	} else {
		size_t n = strlen(dir);
		if (strncmp(path, dir, n) != 0 || strncmp(path + n, "/dev/gpiochip", 13) != 0)
			return NULL;
		base = path + n + 5;
	}
	if (strlen(base) >= 32 || strchr(base, '/'))
		return NULL;
	for (const char *p = base + 8; *p; p++)
		if (*p < '0' || *p > '9')
			return NULL;
	if (!base[8])
		return NULL;
	snprintf(probe, sizeof(probe), "%s/sys/%s/dev", dir, base);
	if (real_access(probe, F_OK) != 0)
		return NULL;
	strcpy(out, base);
	return out;
}

/* /sys/bus/gpio/devices/gpiochipN/dev -> the emulation's copy of that attribute. */
static int sys_attr(const char *path, char *out, size_t size)
{
	const char *dir = emu_dir();
	const char *prefix = "/sys/bus/gpio/devices/";
	size_t n = strlen(prefix);
	if (!dir || !path || strncmp(path, prefix, n) != 0 || strncmp(path + n, "gpiochip", 8) != 0)
		return 0;
	snprintf(out, size, "%s/sys/%s", dir, path + n);
	return 1;
}

static int chip_number(const char *chip)
{
	return atoi(chip + 8);
}

static void fake_chr_stat(const char *chip, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFCHR | 0660;
	st->st_rdev = makedev(GPIO_MAJOR, chip_number(chip));
	st->st_nlink = 1;
	st->st_blksize = 4096;
}

/* One request and its reply on a connection; doorbells ("!") before the reply are skipped. */
static int transact(int fd, const char *request, char *reply, size_t size)
{
	ssize_t n;
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, reply, size - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODEV; /* the emulated kernel went away */
		reply[n] = 0;
		if (reply[0] == '!')
			continue;
		return atoi(reply);
	}
}

static int connect_kernel(void)
{
	struct sockaddr_un addr;
	const char *dir = emu_dir();
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/kernel.sock", dir);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int saved = errno;
		real_close(fd);
		errno = saved == ENOENT || saved == ECONNREFUSED ? ENODEV : saved;
		return -1;
	}
	if (fd >= MAX_FD) {
		real_close(fd);
		errno = EMFILE;
		return -1;
	}
	return fd;
}

/* Text fields: the kernel copies at most 31 bytes; tabs would break our framing. */
static void field(char *out, const char *in, size_t max)
{
	size_t i = 0;
	for (; in[i] && i < max - 1; i++)
		out[i] = (in[i] == '\t' || in[i] == '\n') ? ' ' : in[i];
	out[i] = 0;
}

/* Next tab-separated field of a reply. */
static char *next_field(char **cursor)
{
	char *start = *cursor, *tab;
	if (!start)
		return (char *)"";
	tab = strchr(start, '\t');
	if (tab) {
		*tab = 0;
		*cursor = tab + 1;
	} else {
		*cursor = NULL;
	}
	return start;
}

/*
 * transact(), then point *cursor at the reply's fields after its status:
 * returns the status, or the negative errno of a failed transaction (the
 * cursor then untouched).
 */
static int ask(int fd, const char *request, char *reply, size_t size, char **cursor)
{
	int rv = transact(fd, request, reply, size);
	if (rv < 0)
		return rv;
	*cursor = reply;
	next_field(cursor);
	return rv;
}

/*
 * A new connection to the emulated kernel that asks it for `request` (a chip,
 * a line handle or a line event): the connection's fd, tracked as `kind` with
 * `lines` lines of `chip`, or -errno (the connection closed again).
 */
static int open_kernel_fd(const char *request, int kind, unsigned lines, const char *chip)
{
	char reply[MSG];
	int fd = connect_kernel(), rv;
	if (fd < 0)
		return -errno;
	rv = transact(fd, request, reply, sizeof(reply));
	if (rv < 0) {
		real_close(fd);
		return rv;
	}
	fds[fd].kind = (unsigned char)kind;
	fds[fd].lines = (unsigned char)lines;
	strcpy(fds[fd].chip, chip);
	return fd;
}

int open(const char *path, int flags, ...)
{
	char chip[32], attr[PATH_MAX], request[64];
	mode_t mode = 0;
	resolve_all();
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (chip_of_dev(path, chip)) {
		int fd;
		snprintf(request, sizeof(request), "CHIP\t%s", chip);
		fd = open_kernel_fd(request, FD_CHIP, 0, chip);
		if (fd < 0) {
			errno = -fd;
			return -1;
		}
		return fd;
	}
	if (sys_attr(path, attr, sizeof(attr)))
		return real_open(attr, flags, mode);
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int close(int fd)
{
	char reply[MSG];
	resolve_all();
	if (fd >= 0 && fd < MAX_FD && fds[fd].kind != FD_NONE) {
		/*
		 * The kernel has released the lines when close() returns, so the
		 * next request (from this process or one it signals) finds them
		 * free: ask for the release and wait for it. A process that dies
		 * without closing is released when the kernel sees its connection
		 * drop.
		 */
		if (fds[fd].kind == FD_HANDLE || fds[fd].kind == FD_EVENT)
			transact(fd, "RELEASE", reply, sizeof(reply));
		fds[fd].kind = FD_NONE;
	}
	return real_close(fd);
}

/* stat and lstat: a device node is the emulated character device, a sysfs attribute its file under the emulation. */
static int emulated_stat(const char *path, struct stat *st, int (*real)(const char *, struct stat *))
{
	char chip[32], attr[PATH_MAX];
	if (chip_of_dev(path, chip)) {
		fake_chr_stat(chip, st);
		return 0;
	}
	if (sys_attr(path, attr, sizeof(attr)))
		return real(attr, st);
	return real(path, st);
}

int stat(const char *path, struct stat *st)
{
	resolve_all();
	return emulated_stat(path, st, real_stat);
}

int lstat(const char *path, struct stat *st)
{
	resolve_all();
	return emulated_stat(path, st, real_lstat);
}

char *realpath(const char *path, char *resolved)
{
	char chip[32];
	resolve_all();
	if (chip_of_dev(path, chip)) {
		if (resolved) {
			snprintf(resolved, PATH_MAX, "%s", path);
			return resolved;
		}
		return strdup(path);
	}
	return real_realpath(path, resolved);
}

int access(const char *path, int mode)
{
	char chip[32], attr[PATH_MAX];
	resolve_all();
	if (chip_of_dev(path, chip))
		return 0;
	if (sys_attr(path, attr, sizeof(attr)))
		return real_access(attr, mode);
	return real_access(path, mode);
}

/* scandir("/dev"): the real entries plus the emulated chips, filtered and sorted by the caller's functions. */
int scandir(const char *dir, struct dirent ***list, int (*filter)(const struct dirent *),
	    int (*compar)(const struct dirent **, const struct dirent **))
{
	char sysdir[PATH_MAX];
	struct dirent **real = NULL, **extra = NULL, **all;
	int n, m = 0, i;
	resolve_all();
	n = real_scandir(dir, &real, filter, NULL);
	if (n < 0 || !emu_dir() || (strcmp(dir, "/dev") != 0 && strcmp(dir, "/dev/") != 0))
		goto sort;
	snprintf(sysdir, sizeof(sysdir), "%s/sys", emu_dir());
	m = real_scandir(sysdir, &extra, NULL, NULL);
	if (m < 0)
		m = 0;
	all = realloc(real, sizeof(*all) * (n + m + 1));
	if (!all)
		goto sort;
	real = all;
	for (i = 0; i < m; i++) {
		struct dirent *entry = extra[i];
		if (strncmp(entry->d_name, "gpiochip", 8) == 0) {
			entry->d_type = DT_CHR;
			if (!filter || filter(entry)) {
				real[n++] = entry;
				continue;
			}
		}
		free(entry);
	}
	free(extra);
sort:
	if (n > 0 && compar)
		qsort(real, n, sizeof(*real), (int (*)(const void *, const void *))compar);
	*list = real;
	return n;
}

/* ioctl on a chip fd: info, line info, and requests that become new fds. */
static int chip_ioctl(int fd, unsigned long request, void *arg)
{
	char message[MSG], reply[MSG], label[32], *cursor;
	int rv;
	if (request == GPIO_GET_CHIPINFO_IOCTL) {
		struct gpiochip_info *info = arg;
		rv = ask(fd, "INFO", reply, sizeof(reply), &cursor);
		if (rv < 0)
			return rv;
		memset(info, 0, sizeof(*info));
		strncpy(info->name, next_field(&cursor), sizeof(info->name) - 1);
		strncpy(info->label, next_field(&cursor), sizeof(info->label) - 1);
		info->lines = (__u32)strtoul(next_field(&cursor), NULL, 10);
		return 0;
	}
	if (request == GPIO_GET_LINEINFO_IOCTL) {
		struct gpioline_info *info = arg;
		snprintf(message, sizeof(message), "LINEINFO\t%u", info->line_offset);
		rv = ask(fd, message, reply, sizeof(reply), &cursor);
		if (rv < 0)
			return rv;
		info->flags = (__u32)strtoul(next_field(&cursor), NULL, 10);
		memset(info->name, 0, sizeof(info->name));
		memset(info->consumer, 0, sizeof(info->consumer));
		strncpy(info->name, next_field(&cursor), sizeof(info->name) - 1);
		strncpy(info->consumer, next_field(&cursor), sizeof(info->consumer) - 1);
		return 0;
	}
	if (request == GPIO_GET_LINEHANDLE_IOCTL) {
		struct gpiohandle_request *req = arg;
		int len, conn;
		if (req->lines == 0 || req->lines > GPIOHANDLES_MAX)
			return -EINVAL;
		field(label, req->consumer_label, sizeof(label));
		len = snprintf(message, sizeof(message), "HANDLE\t%s\t%u\t%s\t", fds[fd].chip, req->flags, label);
		for (unsigned i = 0; i < req->lines; i++)
			len += snprintf(message + len, sizeof(message) - len, "%s%u", i ? "," : "", req->lineoffsets[i]);
		len += snprintf(message + len, sizeof(message) - len, "\t");
		for (unsigned i = 0; i < req->lines; i++)
			len += snprintf(message + len, sizeof(message) - len, "%s%u", i ? "," : "",
					req->default_values[i] ? 1 : 0);
		conn = open_kernel_fd(message, FD_HANDLE, req->lines, fds[fd].chip);
		if (conn < 0)
			return conn;
		req->fd = conn;
		return 0;
	}
	if (request == GPIO_GET_LINEEVENT_IOCTL) {
		struct gpioevent_request *req = arg;
		int conn;
		field(label, req->consumer_label, sizeof(label));
		snprintf(message, sizeof(message), "EVENT\t%s\t%u\t%u\t%u\t%s", fds[fd].chip, req->lineoffset,
			 req->handleflags, req->eventflags, label);
		conn = open_kernel_fd(message, FD_EVENT, 1, fds[fd].chip);
		if (conn < 0)
			return conn;
		req->fd = conn;
		return 0;
	}
	return -EINVAL; /* v2 ioctls and the line-info watch are not emulated: as a pre-5.7 kernel */
}

static int handle_ioctl(int fd, unsigned long request, void *arg)
{
	char message[MSG], reply[MSG], *cursor, *values;
	int rv, len;
	if (request == GPIOHANDLE_GET_LINE_VALUES_IOCTL) {
		struct gpiohandle_data *data = arg;
		rv = ask(fd, "GET", reply, sizeof(reply), &cursor);
		if (rv < 0)
			return rv;
		values = next_field(&cursor);
		memset(data, 0, sizeof(*data));
		for (unsigned i = 0; i < fds[fd].lines && *values; i++) {
			data->values[i] = (__u8)(values[0] == '1');
			values = strchr(values, ',');
			if (!values)
				break;
			values++;
		}
		return 0;
	}
	if (request == GPIOHANDLE_SET_LINE_VALUES_IOCTL) {
		struct gpiohandle_data *data = arg;
		if (fds[fd].kind == FD_EVENT)
			return -EINVAL; /* lineevent_ioctl: only GET_LINE_VALUES */
		len = snprintf(message, sizeof(message), "SET\t");
		for (unsigned i = 0; i < fds[fd].lines; i++)
			len += snprintf(message + len, sizeof(message) - len, "%s%u", i ? "," : "",
					data->values[i] ? 1 : 0);
		return transact(fd, message, reply, sizeof(reply));
	}
	if (request == GPIOHANDLE_SET_CONFIG_IOCTL) {
		struct gpiohandle_config *config = arg;
		if (fds[fd].kind == FD_EVENT)
			return -EINVAL;
		len = snprintf(message, sizeof(message), "CONFIG\t%u\t", config->flags);
		for (unsigned i = 0; i < fds[fd].lines; i++)
			len += snprintf(message + len, sizeof(message) - len, "%s%u", i ? "," : "",
					config->default_values[i] ? 1 : 0);
		return transact(fd, message, reply, sizeof(reply));
	}
	return -EINVAL;
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int rv;
	resolve_all();
	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd >= MAX_FD || fds[fd].kind == FD_NONE)
		return real_ioctl(fd, request, arg);
	if (fds[fd].kind == FD_CHIP)
		rv = chip_ioctl(fd, request, arg);
	else
		rv = handle_ioctl(fd, request, arg);
	if (rv < 0) {
		errno = -rv;
		return -1;
	}
	return rv;
}

/* read() on an event request: whole struct gpioevent_data records, as lineevent_read. */
ssize_t read(int fd, void *buf, size_t count)
{
	char message[64], reply[MSG], *cursor;
	struct gpioevent_data *out = buf;
	size_t max;
	int rv, n;
	resolve_all();
	if (fd < 0 || fd >= MAX_FD || fds[fd].kind == FD_NONE)
		return real_read(fd, buf, count);
	if (fds[fd].kind != FD_EVENT) {
		errno = EINVAL; /* a line handle or chip has no read() */
		return -1;
	}
	max = count / sizeof(struct gpioevent_data);
	if (max == 0) {
		errno = EINVAL;
		return -1;
	}
	if (max > 1000)
		max = 1000;
	for (;;) {
		snprintf(message, sizeof(message), "READ\t%zu", max);
		rv = ask(fd, message, reply, sizeof(reply), &cursor);
		if (rv < 0) {
			errno = -rv;
			return -1;
		}
		n = atoi(next_field(&cursor));
		if (n > 0)
			break;
		if (fcntl(fd, F_GETFL) & O_NONBLOCK) {
			errno = EAGAIN;
			return -1;
		}
		/* Blocking read on an empty queue: wait for the next doorbell. */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, -1) < 0)
			return -1;
	}
	for (int i = 0; i < n; i++) {
		char *record = next_field(&cursor);
		char *colon = strchr(record, ':');
		memset(&out[i], 0, sizeof(out[i]));
		out[i].timestamp = strtoull(record, NULL, 10);
		out[i].id = colon ? (__u32)strtoul(colon + 1, NULL, 10) : 0;
	}
	return (ssize_t)(n * sizeof(struct gpioevent_data));
}
