/* launch_install.c — `mlplane launch --install DIR`: a launcher that needs
 * nothing of the image it runs in (docs/kubernetes-render.md).
 *
 * What this process runs on is taken from the process itself, not from ldd:
 * the executable (/proc/self/exe, or the object holding this code when the
 * process was started through its loader), every shared object the dynamic
 * linker has loaded (dl_iterate_phdr: the link map, the vDSO left out, as it has
 * no file), and the loader named by the executable's PT_INTERP. They become
 * DIR/mlplane, DIR/lib/SONAME and DIR/ld.so (the loader is the object the
 * kernel loaded at AT_BASE, or the executable itself when the process was
 * started through its loader, so an install run from an installed launcher
 * copies the same files), each copied under a temporary name
 * and renamed, so an install run twice (or interrupted) leaves whole files.
 * The executable's PT_INTERP still names the image's /lib, so the launcher is
 * started through its own loader: `DIR/ld.so --library-path DIR/lib DIR/mlplane`
 * (as src/k8s/render_job.c renders the step's command).
 *
 * Single-threaded. */
#include "exec/launch_int.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct objs {
    char *interp; /* PT_INTERP of the executable */
    mp_strv libs; /* the loaded objects' files */
    int seen;
} objs;

static int on_object(struct dl_phdr_info *info, size_t size, void *ud) {
    (void)size;
    objs *o = ud;
    if (o->seen++ == 0) { /* the executable comes first */
        for (int i = 0; i < info->dlpi_phnum; i++)
            if (info->dlpi_phdr[i].p_type == PT_INTERP)
                o->interp = mp_xstrdup((const char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr));
        return 0;
    }
    const char *n = info->dlpi_name;
    struct stat sb;
    if (n && n[0] == '/' && stat(n, &sb) == 0 && S_ISREG(sb.st_mode)) mp_strv_push(&o->libs, n);
    return 0;
}

/* Copies src to dir/name (mode) through dir/.name.XXXXXX. */
static int copy_into(const char *src, const char *dir, const char *name, mode_t mode, mp_err *e) {
    char *tmp = mp_xasprintf("%s/.%s.XXXXXX", dir, name);
    char *dest = mp_xasprintf("%s/%s", dir, name);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = in >= 0 ? mkstemp(tmp) : -1;
    int rc = 0;
    if (in < 0) rc = mp_err_set(e, MP_EIO, "cannot read %s: %s", src, strerror(errno));
    else if (out < 0) rc = mp_err_set(e, MP_EIO, "cannot write in %s: %s", dir, strerror(errno));
    char buf[65536];
    while (rc == 0) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = mp_err_set(e, MP_EIO, "cannot read %s: %s", src, strerror(errno));
        if (n <= 0) break;
        for (ssize_t off = 0; rc == 0 && off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) rc = mp_err_set(e, MP_EIO, "cannot write %s: %s", tmp, strerror(errno));
            else off += w;
        }
    }
    if (rc == 0 && (fchmod(out, mode) != 0 || fsync(out) != 0))
        rc = mp_err_set(e, MP_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (out >= 0 && close(out) != 0 && rc == 0) rc = mp_err_set(e, MP_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (in >= 0) close(in);
    if (rc == 0 && rename(tmp, dest) != 0) rc = mp_err_set(e, MP_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    if (rc != 0 && out >= 0) unlink(tmp);
    free(tmp);
    free(dest);
    return rc;
}

static const char *base(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The file of the loader this process runs with (heap). Started as usual, the
 * kernel loaded it at AT_BASE: the loaded object there (named as PT_INTERP
 * says). Started through it (`ld.so mlplane ...`, AT_BASE 0), it is the
 * process's executable. */
typedef struct find_ld {
    uintptr_t base;
    char *name;
} find_ld;

static int on_loader(struct dl_phdr_info *info, size_t size, void *ud) {
    (void)size;
    find_ld *f = ud;
    if (!f->name && info->dlpi_addr == f->base && info->dlpi_name && info->dlpi_name[0] == '/')
        f->name = realpath(info->dlpi_name, NULL);
    return 0;
}

static char *loader_file(void) {
    find_ld f = {.base = (uintptr_t)getauxval(AT_BASE)};
    if (f.base == 0) return realpath("/proc/self/exe", NULL);
    dl_iterate_phdr(on_loader, &f);
    return f.name;
}

/* The executable's file (heap): /proc/self/exe, unless that is the loader
 * itself (started as `ld.so mlplane ...`), then the object holding this code. */
static char *self_exe(const char *ld, mp_err *e) {
    char *exe = realpath("/proc/self/exe", NULL);
    if (exe && ld && strcmp(exe, ld) == 0) {
        free(exe);
        exe = NULL;
    }
    Dl_info di;
    if (!exe && dladdr((void *)exec_launch_install, &di) && di.dli_fname && di.dli_fname[0])
        exe = realpath(di.dli_fname, NULL);
    if (!exe) mp_err_set(e, MP_EIO, "cannot find the mlplane executable of this process (is /proc mounted?)");
    return exe;
}

int exec_launch_install(const char *dir, mp_err *e) {
    if (!dir || !*dir) return mp_err_set(e, MP_EINVAL, "--install needs a folder: mlplane launch --install DIR");
    objs o = {0};
    dl_iterate_phdr(on_object, &o);
    int rc = 0;
    if (!o.interp)
        rc = mp_err_set(e, MP_EINVAL, "this mlplane is linked statically (no PT_INTERP): copy the binary alone and run "
                        "it as it is");
    char *ld = rc == 0 ? loader_file() : NULL;
    if (rc == 0 && !ld) rc = mp_err_set(e, MP_EIO, "cannot find the loader %s this process runs with", o.interp);
    char *exe = rc == 0 ? self_exe(ld, e) : NULL;
    if (rc == 0 && !exe) rc = MP_EIO;
    char *lib = mp_xasprintf("%s/lib", dir);
    if (rc == 0 && mp_mkdir_p(lib, e) != 0) {
        char msg[sizeof e->msg];
        snprintf(msg, sizeof msg, "%s", e->msg);
        rc = mp_err_set(e, MP_EIO, "%s (a pod's init container mounts an emptyDir there)", msg);
    }
    if (rc == 0) rc = copy_into(ld, dir, "ld.so", 0755, e);
    size_t n = 0;
    for (size_t i = 0; i < o.libs.n && rc == 0; i++) {
        char *a = realpath(o.libs.v[i], NULL);
        bool is_ld = a && strcmp(a, ld) == 0;
        free(a);
        if (is_ld) continue; /* the loader is ld.so */
        rc = copy_into(o.libs.v[i], lib, base(o.libs.v[i]), 0644, e);
        n++;
    }
    if (rc == 0) rc = copy_into(exe, dir, "mlplane", 0755, e);
    if (rc == 0)
        fprintf(stderr, "mlplane launch: installed %s/mlplane with its loader (%s as ld.so) and %zu libraries in %s; "
                "run it as %s/ld.so --library-path %s %s/mlplane launch -- COMMAND\n",
                dir, o.interp, n, lib, dir, lib, dir);
    free(lib);
    free(ld);
    free(exe);
    free(o.interp);
    mp_strv_free(&o.libs);
    return rc;
}
