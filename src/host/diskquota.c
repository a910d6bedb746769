/* See diskquota.h. */
#include <errno.h>
#include <linux/fs.h>
#include <linux/quota.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "diskquota.h"
#include "macro.h"

#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif

/* QCMD() shifts an int past its sign bit; the same in unsigned. */
#define QUOTA_CMD(cmd, type) ((((unsigned) (cmd)) << SUBCMDSHIFT) | ((unsigned) (type) & SUBCMDMASK))

static int quotactl_fd(int fd, unsigned cmd, int id, void *addr) {
        return syscall(SYS_quotactl_fd, fd, cmd, id, addr) < 0 ? negative_errno() : 0;
}

int disk_quota_apply(int upper_fd, uint32_t project, uint64_t max_bytes) {
        struct if_dqinfo info;
        int r = quotactl_fd(upper_fd, QUOTA_CMD(Q_GETINFO, PRJQUOTA), 0, &info);
        if (r < 0)
                /* ENOSYS (old kernel), ESRCH (quotas off), ENOTSUP, EINVAL:
                 * no project quota here. */
                return r == -EPERM ? r : 0;
        struct fsxattr fa;
        if (ioctl(upper_fd, FS_IOC_FSGETXATTR, &fa) < 0)
                return errno == ENOTTY || errno == EOPNOTSUPP ? 0 : negative_errno();
        fa.fsx_projid = project;
        fa.fsx_xflags |= FS_XFLAG_PROJINHERIT;
        if (ioctl(upper_fd, FS_IOC_FSSETXATTR, &fa) < 0)
                return negative_errno();
        struct if_dqblk q = {
                .dqb_bhardlimit = (max_bytes + 1023) / 1024, /* in 1 KiB blocks */
                .dqb_bsoftlimit = 0,
                .dqb_ihardlimit = 0,
                .dqb_valid = QIF_BLIMITS,
        };
        r = quotactl_fd(upper_fd, QUOTA_CMD(Q_SETQUOTA, PRJQUOTA), (int) project, &q);
        return r < 0 ? r : 1;
}
