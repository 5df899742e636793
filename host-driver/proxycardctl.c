// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * proxycardctl: the proxycard control plane from user space, through the
 * driver's sysfs attributes (host-driver/README.md, "Control interface").
 *
 *   proxycardctl [-d DEVICE] load FILE|-   load a configuration into the card
 *   proxycardctl [-d DEVICE] stats [NAME]  the card's counters
 *   proxycardctl [-d DEVICE] log           the firmware's recent log
 *   proxycardctl [-d DEVICE] status        device, interface, state
 *   proxycardctl list                      the cards bound to the driver
 *
 * Plain C, no library beyond libc: builds with `cc -static -O2`.
 *
 * Copyright (c) 2026 The proxycard authors
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DRIVER_DIR	"/sys/bus/pci/drivers/proxycard"
#define MAX_CONFIG	65536		/* PROXYCARD_CMD_MAX_CONFIG */
#define MAX_READ	(1024 * 1024)

/* Exit codes (README.md). */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,	/* the card refused, or a command failed */
	EXIT_USAGE = 2,
	EXIT_NODEV = 3,		/* no proxycard bound to the driver */
	EXIT_SYSTEM = 4,	/* I/O or permission error */
};

static const char *prog = "proxycardctl";

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void print_help(FILE *f)
{
	fprintf(f,
		"usage: %s [-d DEVICE] COMMAND [ARG]\n"
		"\n"
		"commands:\n"
		"  load FILE   load the configuration in FILE ('-': standard input)\n"
		"              into the card (docs/config.md)\n"
		"  stats [NAME]\n"
		"              print the card's counters as 'name value' lines,\n"
		"              or the value of the counter NAME alone\n"
		"  log         print the firmware's recent log\n"
		"  status      print the device, its interface, the firmware and\n"
		"              link state, and the outcome of the last load\n"
		"  list        list the PCI devices bound to the proxycard driver\n"
		"\n"
		"options:\n"
		"  -d DEVICE   the card: a PCI address (0000:00:03.0) or its\n"
		"              interface (pcard0); default: the only card\n"
		"  -h          this help\n"
		"\n"
		"exit status: 0 success, 1 the card refused or a command failed,\n"
		"2 usage error, 3 no proxycard found, 4 system error\n",
		prog);
}

/* A PCI address as sysfs names it: DDDD:BB:DD.F */
static int is_pci_addr(const char *s)
{
	unsigned int d, b, dev, fn;
	char end;

	return sscanf(s, "%4x:%2x:%2x.%1x%c", &d, &b, &dev, &fn, &end) == 4;
}

static int list_devices(char names[][32], int max)
{
	DIR *dir = opendir(DRIVER_DIR);
	struct dirent *de;
	int n = 0;

	if (!dir) {
		if (errno == ENOENT)
			die(EXIT_NODEV, "the proxycard driver is not loaded (no %s); "
			    "load it with 'modprobe proxycard' or 'insmod proxycard.ko'",
			    DRIVER_DIR);
		die(EXIT_SYSTEM, "%s: %s", DRIVER_DIR, strerror(errno));
	}
	while ((de = readdir(dir))) {
		if (!is_pci_addr(de->d_name) || strlen(de->d_name) >= 32)
			continue;
		if (n < max)
			snprintf(names[n], 32, "%s", de->d_name);
		n++;
	}
	closedir(dir);
	return n;
}

/* The card's sysfs directory, from -d or the only device bound. */
static void find_device(const char *want, char *path, size_t size)
{
	char names[16][32];
	char link[PATH_MAX], real[PATH_MAX];
	const char *base;
	int n;

	if (want && is_pci_addr(want) && strlen(want) < 32) {
		snprintf(path, size, DRIVER_DIR "/%.31s", want);
		if (access(path, F_OK))
			die(EXIT_NODEV, "%s is not a PCI device bound to the proxycard driver",
			    want);
		return;
	}
	if (want) {
		snprintf(link, sizeof(link), "/sys/class/net/%s/device", want);
		if (!realpath(link, real))
			die(EXIT_NODEV, "%s: no such network interface with a device",
			    want);
		base = strrchr(real, '/');
		base = base ? base + 1 : real;
		if (!is_pci_addr(base) || strlen(base) >= 32)
			die(EXIT_NODEV, "%s is not a proxycard interface", want);
		snprintf(path, size, DRIVER_DIR "/%.31s", base);
		if (access(path, F_OK))
			die(EXIT_NODEV, "%s is not a proxycard interface", want);
		return;
	}
	n = list_devices(names, 16);
	if (n == 0)
		die(EXIT_NODEV,
		    "no proxycard device is bound to the driver (is the card present? see lspci and dmesg)");
	if (n > 1)
		die(EXIT_USAGE, "%d proxycards found: choose one with -d", n);
	snprintf(path, size, DRIVER_DIR "/%s", names[0]);
}

static void attr_path(char *out, size_t size, const char *dev,
		      const char *attr)
{
	if ((size_t)snprintf(out, size, "%s/%s", dev, attr) >= size)
		die(EXIT_SYSTEM, "path too long: %s/%s", dev, attr);
}

/* Read a whole attribute; the error of read() is returned in *err. */
static char *read_attr(const char *dev, const char *attr, size_t *len,
		       int *err)
{
	char path[PATH_MAX];
	size_t cap = 4096, n = 0;
	char *buf;
	ssize_t r;
	int fd;

	attr_path(path, sizeof(path), dev, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	buf = malloc(cap + 1);
	if (!buf)
		die(EXIT_SYSTEM, "out of memory");
	for (;;) {
		if (n == cap) {
			if (cap >= MAX_READ)
				break;
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				die(EXIT_SYSTEM, "out of memory");
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			*err = errno;
			close(fd);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	*err = 0;
	return buf;
}

static char *read_attr_or_die(const char *dev, const char *attr, size_t *len)
{
	int err;
	char *s = read_attr(dev, attr, len, &err);

	if (s)
		return s;
	switch (err) {
	case EACCES:
	case EPERM:
		die(EXIT_SYSTEM, "%s/%s: %s (run as root)", dev, attr,
		    strerror(err));
		break;
	case ETIMEDOUT:
		die(EXIT_REFUSED, "the card did not answer the command (it is being reset)");
		break;
	case EBUSY:
		die(EXIT_REFUSED, "the card is still running an earlier command");
		break;
	case EIO:
		die(EXIT_REFUSED, "the command failed: %s/%s: %s", dev, attr,
		    strerror(err));
		break;
	default:
		die(EXIT_SYSTEM, "%s/%s: %s", dev, attr, strerror(err));
	}
	return NULL;
}

static void write_all(int fd, const char *buf, size_t len, const char *what)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_SYSTEM, "writing %s: %s", what, strerror(errno));
		}
		buf += w;
		len -= (size_t)w;
	}
}

static char *read_file(const char *file, size_t *len)
{
	size_t cap = MAX_CONFIG + 1, n = 0;
	char *buf = malloc(cap);
	ssize_t r;
	int fd;

	if (!buf)
		die(EXIT_SYSTEM, "out of memory");
	fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0)
		die(EXIT_SYSTEM, "%s: %s", file, strerror(errno));
	while (n < cap) {
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_SYSTEM, "%s: %s", file, strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (fd)
		close(fd);
	if (n > MAX_CONFIG - 1)
		die(EXIT_USAGE, "%s: a configuration is at most %d bytes",
		    file, MAX_CONFIG - 1);
	*len = n;
	return buf;
}

static int cmd_load(const char *dev, const char *file)
{
	char path[PATH_MAX];
	char *text, *status;
	size_t len, slen;
	ssize_t w;
	int fd;

	text = read_file(file, &len);
	if (len == 0)
		die(EXIT_USAGE, "%s is empty", file);
	if (memchr(text, '\0', len))
		die(EXIT_USAGE, "%s contains a NUL byte: not a configuration text",
		    file);

	/*
	 * The text into proxycard_config (a binary attribute: sysfs passes
	 * it on a page at a time, so write_all() loops), then "1" into
	 * proxycard_config_load, whose answer is the card's.
	 */
	attr_path(path, sizeof(path), dev, "proxycard_config");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die(EXIT_SYSTEM, "%s: %s%s", path, strerror(errno),
		    errno == EACCES ? " (run as root)" : "");
	write_all(fd, text, len, path);
	close(fd);

	attr_path(path, sizeof(path), dev, "proxycard_config_load");
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die(EXIT_SYSTEM, "%s: %s%s", path, strerror(errno),
		    errno == EACCES ? " (run as root)" : "");
	do {
		w = write(fd, "1\n", 2);
	} while (w < 0 && errno == EINTR);
	if (w < 0) {
		int err = errno;

		close(fd);
		status = read_attr_or_die(dev, "proxycard_config_status", &slen);
		status[strcspn(status, "\n")] = '\0';
		if (err == EINVAL && !strncmp(status, "refused: ", 9))
			die(EXIT_REFUSED, "the card refused %s: %s", file,
			    status + 9);
		if (err == ETIMEDOUT || err == EBUSY || err == EIO)
			die(EXIT_REFUSED, "loading %s failed: %s (%s)", file,
			    strerror(err), status);
		die(EXIT_SYSTEM, "loading %s: %s", file, strerror(err));
	}
	close(fd);
	printf("%s: configuration loaded (%zu bytes)\n", file, len);
	free(text);
	return EXIT_OK;
}

static int cmd_stats(const char *dev, const char *name)
{
	size_t len, nlen;
	char *s = read_attr_or_die(dev, "proxycard_stats", &len);
	char *line, *save = NULL;

	if (!name) {
		write_all(1, s, len, "standard output");
		free(s);
		return EXIT_OK;
	}
	nlen = strlen(name);
	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, name, nlen) && line[nlen] == ' ') {
			printf("%s\n", line + nlen + 1);
			free(s);
			return EXIT_OK;
		}
	}
	die(EXIT_USAGE, "no counter named '%s' (see '%s stats')", name, prog);
	return EXIT_USAGE;
}

static int cmd_cat(const char *dev, const char *attr)
{
	size_t len;
	char *s = read_attr_or_die(dev, attr, &len);

	write_all(1, s, len, "standard output");
	free(s);
	return EXIT_OK;
}

static int cmd_status(const char *dev)
{
	size_t len;
	char *state = read_attr_or_die(dev, "proxycard_state", &len);
	char *cfg = read_attr_or_die(dev, "proxycard_config_status", &len);
	const char *base = strrchr(dev, '/');

	printf("device %s\n", base ? base + 1 : dev);
	fputs(state, stdout);
	printf("configuration %s", cfg);
	free(state);
	free(cfg);
	return EXIT_OK;
}

static int cmd_list(void)
{
	char names[64][32];
	int i, n = list_devices(names, 64);

	for (i = 0; i < n && i < 64; i++) {
		char path[PATH_MAX], ifname[NAME_MAX + 1] = "-";
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), DRIVER_DIR "/%.31s/net", names[i]);
		d = opendir(path);
		if (d) {
			while ((de = readdir(d)))
				if (de->d_name[0] != '.')
					snprintf(ifname, sizeof(ifname), "%s",
						 de->d_name);
			closedir(d);
		}
		printf("%s %s\n", names[i], ifname);
	}
	return n ? EXIT_OK : EXIT_NODEV;
}

int main(int argc, char **argv)
{
	const char *want = NULL, *cmd;
	char dev[PATH_MAX];
	int opt;

	while ((opt = getopt(argc, argv, "+d:h")) != -1) {
		switch (opt) {
		case 'd':
			want = optarg;
			break;
		case 'h':
			print_help(stdout);
			return EXIT_OK;
		default:
			print_help(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		print_help(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind++];

	if (!strcmp(cmd, "help")) {
		print_help(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "list")) {
		if (optind != argc)
			die(EXIT_USAGE, "list takes no argument");
		return cmd_list();
	}
	if (!strcmp(cmd, "load")) {
		if (argc - optind != 1)
			die(EXIT_USAGE, "usage: %s load FILE", prog);
		find_device(want, dev, sizeof(dev));
		return cmd_load(dev, argv[optind]);
	}
	if (!strcmp(cmd, "stats")) {
		if (argc - optind > 1)
			die(EXIT_USAGE, "usage: %s stats [NAME]", prog);
		find_device(want, dev, sizeof(dev));
		return cmd_stats(dev, optind < argc ? argv[optind] : NULL);
	}
	if (!strcmp(cmd, "log") || !strcmp(cmd, "status")) {
		if (optind != argc)
			die(EXIT_USAGE, "%s takes no argument", cmd);
		find_device(want, dev, sizeof(dev));
		return cmd[0] == 'l' ? cmd_cat(dev, "proxycard_log")
				     : cmd_status(dev);
	}
	fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
	print_help(stderr);
	return EXIT_USAGE;
}
