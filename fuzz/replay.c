/*
 * Runs a libFuzzer target over files without libFuzzer, so the corpus
 * replays in `make check` with the ordinary compiler.  Each argument is a
 * file or a directory of files.  Prints "replayed N inputs" and exits 0; a
 * failing input aborts, as it would under the fuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (1024 * 1024)

static int
replay_file(const char *path)
{
	static uint8_t buf[REPLAY_MAX_INPUT];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

static int
replay_path(const char *path, unsigned long *count)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	char child[4096];

	if (stat(path, &st) == -1) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	if ((d = opendir(path)) == NULL) {
		perror(path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		if (replay_path(child, count) == -1) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int
main(int argc, char *argv[])
{
	unsigned long count = 0;
	int i;

	for (i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) == -1)
			return 1;
	printf("replayed %lu inputs\n", count);
	return count > 0 ? 0 : 1;
}
