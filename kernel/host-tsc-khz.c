/* Prints the host's TSC frequency in kHz, for the guest's `tsc_early_khz=`
 * under TCG (docs/kernel.md): QEMU's TCG guest reads the host's TSC, and a
 * guest told its rate skips a calibration that fails under TCG and would
 * leave it on the 4 ms jiffies clocksource.
 *
 * The rate is measured against CLOCK_MONOTONIC_RAW (median of 3 x 25 ms);
 * when /proc/cpuinfo's `cpu MHz` agrees within 0.1 % it is used instead, as
 * it is the host kernel's own calibration, exact to the kHz.
 * Build: cc -O2 -o host-tsc-khz kernel/host-tsc-khz.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

static double mono_raw(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double measure_khz(void)
{
    struct timespec pause = {0, 25 * 1000 * 1000};
    double t0 = mono_raw();
    unsigned long long c0 = __rdtsc();

    nanosleep(&pause, NULL);
    double t1 = mono_raw();
    unsigned long long c1 = __rdtsc();
    return (double)(c1 - c0) / (t1 - t0) / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double cpuinfo_khz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    double mhz = 0;

    if (!f)
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

int main(void)
{
    double m[3];

    for (int i = 0; i < 3; i++)
        m[i] = measure_khz();
    qsort(m, 3, sizeof(m[0]), cmp_double);
    double khz = m[1], info = cpuinfo_khz();
    if (info > 0 && (info > khz ? info - khz : khz - info) < khz / 1000.0)
        khz = info;
    if (khz < 100000.0) {
        fprintf(stderr, "host-tsc-khz: implausible TSC rate `%.0f` kHz\n", khz);
        return 1;
    }
    printf("%.0f\n", khz);
    return 0;
}
