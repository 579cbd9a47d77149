/* memprobe.c - how fast this machine gives memory touched for the first
 * time, gigabyte by gigabyte.
 *
 * A virtual machine's memory may be backed by the host only when the guest
 * first touches it (and handed back when the guest frees it): the guest
 * then pays a fault on the host for every new page. A store whose page
 * cache grows into such memory gets slower for that reason alone, and the
 * scale workload of compare.sh would show it as a cost of the store's
 * size. This measures it: anonymous memory, written once a gigabyte at a
 * time, then written again.
 *
 * Usage: rz-bench-memprobe GB    (prints one JSON line)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long gb = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    if (gb < 1 || gb > 1024) {
        fprintf(stderr, "usage: rz-bench-memprobe GB (1-1024)\n");
        return 2;
    }
    const size_t chunk = (size_t)1 << 30;
    char *p = mmap(NULL, (size_t)gb * chunk, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("rz-bench-memprobe: mmap");
        return 1;
    }
    printf("{\"probe\":\"memory\",\"first_touch_gb_per_s\":[");
    for (long i = 0; i < gb; i++) {
        double t = s_now();
        memset(p + (size_t)i * chunk, 1, chunk);
        printf("%s%.2f", i ? "," : "", 1 / (s_now() - t));
    }
    double t = s_now();
    for (long i = 0; i < gb; i++)
        memset(p + (size_t)i * chunk, 2, chunk);
    printf("],\"again_gb_per_s\":%.2f}\n", (double)gb / (s_now() - t));
    munmap(p, (size_t)gb * chunk);
    return 0;
}
