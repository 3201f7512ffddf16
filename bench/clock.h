/* Helpers shared by the benchmark programs: wall clock, CPU time, fatal
   errors.  Header-only. */

#ifndef DILL_BENCH_CLOCK_H
#define DILL_BENCH_CLOCK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Monotonic time in seconds. */
static inline double secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Prints what failed with errno's text and exits with status 1. */
static inline void die(const char *what) {
    perror(what);
    exit(1);
}

/* CPU time (user + system) of this process in microseconds. */
static inline long cpu_us(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L +
        ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* CPU time (user + system, all its threads) of process pid in seconds,
   from /proc/<pid>/stat (clock-tick resolution). */
static inline double proc_cpu(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if(!f) die(path);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces and parentheses: count fields from
       its last ')'.  utime and stime are fields 14 and 15. */
    char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if(!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
       &ut, &st) != 2) {fprintf(stderr, "bad %s\n", path); exit(1);}
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Field: N kB" line of a /proc file (/proc/self/status,
   /proc/meminfo), in KiB; -1 if absent. */
static inline long proc_kib(const char *file, const char *field) {
    FILE *f = fopen(file, "r");
    if(!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while(fgets(line, sizeof(line), f))
        if(strncmp(line, field, n) == 0 && line[n] == ':') {
            v = atol(line + n + 1);
            break;
        }
    fclose(f);
    return v;
}

#endif
