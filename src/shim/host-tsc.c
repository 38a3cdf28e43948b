/* The host's TSC rate for the guest's `tsc_early_khz=` under TCG (docs/kernel.md):
 * the TCG guest reads the host's TSC but cannot calibrate it. Measured the way
 * kernel/host-tsc-khz.c does, once per host boot, and cached. */
#include "shim/vmm-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_RDTSC 1
#endif

#define TSC_MIN_KHZ 100000u /* below 100 MHz the figure is wrong, not the TSC */

static int boot_id(char out[64])
{
    cleanup_free char *s = NULL;
    size_t len = 0;

    if (ctr_read_file("/proc/sys/kernel/random/boot_id", 63, &s, &len, NULL) < 0)
        return -1;
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
        s[--len] = '\0';
    if (len == 0 || strchr(s, ' '))
        return -1;
    memcpy(out, s, len + 1);
    return 0;
}

#ifdef HAVE_RDTSC
static double mono_raw_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double measure_once_khz(void)
{
    struct timespec pause = {0, 25 * 1000 * 1000};
    double t0 = mono_raw_s();
    unsigned long long c0 = __rdtsc();

    nanosleep(&pause, NULL);
    double t1 = mono_raw_s();
    unsigned long long c1 = __rdtsc();
    return (double)(c1 - c0) / (t1 - t0) / 1000.0;
}

static double cpuinfo_khz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[4096];
    double mhz = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "cpu MHz", 7) == 0) {
            char *colon = strchr(line, ':');
            if (colon)
                mhz = strtod(colon + 1, NULL);
            break;
        }
    fclose(f);
    return mhz * 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
#endif

int vmm_host_tsc_measure(uint64_t *khz, ctr_error_t *err)
{
#ifdef HAVE_RDTSC
    double m[3], k, info;

    /* Median of 3 x 25 ms against CLOCK_MONOTONIC_RAW; /proc/cpuinfo's figure (the
     * host kernel's own calibration, exact to the kHz) when it agrees within 0.1 %. */
    for (int i = 0; i < 3; i++)
        m[i] = measure_once_khz();
    qsort(m, 3, sizeof(m[0]), cmp_double);
    k = m[1];
    info = cpuinfo_khz();
    if (info > 0 && (info > k ? info - k : k - info) < k / 1000.0)
        k = info;
    if (k < TSC_MIN_KHZ)
        return ctr_fail(err, ERANGE, "implausible host TSC rate `%.0f` kHz", k);
    *khz = (uint64_t)(k + 0.5);
    return 0;
#else
    return ctr_fail(err, ENOTSUP, "no TSC on this host architecture");
#endif
}

/* The cache holds "BOOT_ID KHZ\n": a rate measured before the host rebooted is
 * measured again (the host may have moved to other hardware). */
int vmm_host_tsc_khz(const char *cache, uint64_t *khz, ctr_error_t *err)
{
    char id[64];
    bool have_id = boot_id(id) == 0;

    if (cache && have_id) {
        cleanup_free char *s = NULL;
        size_t len = 0;
        char cid[64];
        unsigned long long v;
        if (ctr_read_file(cache, 256, &s, &len, NULL) == 0 &&
            sscanf(s, "%63s %llu", cid, &v) == 2 && strcmp(cid, id) == 0 && v >= TSC_MIN_KHZ) {
            *khz = v;
            return 0;
        }
    }
    if (vmm_host_tsc_measure(khz, err) < 0)
        return -1;
    if (cache && have_id) {
        cleanup_error ctr_error_t e2 = NULL;
        cleanup_free char *dir = ctr_xstrdup(cache);
        char *slash = strrchr(dir, '/');
        cleanup_free char *line = ctr_xasprintf("%s %llu\n", id, (unsigned long long)*khz);
        if (slash && slash != dir) {
            *slash = '\0';
            (void)ctr_mkdir_p(dir, 0755, &e2);
            ctr_error_free(&e2);
        }
        /* Not being able to cache only costs the next boot 75 ms. */
        if (ctr_write_file_atomic(cache, line, strlen(line), 0644, &e2) < 0)
            log_debug("host TSC rate not cached: %s", e2->msg);
    }
    return 0;
}
