/* tests/unit/ipcq_attach_test.c - weft_ipcq_attach checks a segment before it maps it
 * (weft/ipcq.h): a descriptor that is no weft queue, another version, or a header that does
 * not fit its size is WEFT_EBROKEN, and the message names the field. Each case copies a real
 * queue's header, spoils one field and attaches a memfd holding it. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <weft.h>

#include "ipcq/ipcq_internal.h"
#include "test.h"

static struct ipcq_hdr good; /* a real queue's header */

static void read_good_header(void)
{
    weft_ipcq *q;
    weft_ipcq_opts o = WEFT_IPCQ_OPTS_INIT;
    o.capacity = 5;
    o.max_msg = 40;
    ck_assert_weft(weft_ipcq_new(&q, &o), 0);
    ck_assert_int_eq(pread(weft_ipcq_fd(q), &good, sizeof good, 0), (ssize_t)sizeof good);
    ck_assert_weft(weft_ipcq_free(q), 0);
}

/* Attach a memfd of `size` bytes starting with h (cut to size): the result; the message is
 * left in the thread's error slot. */
static int attach_copy(const struct ipcq_hdr *h, off_t size)
{
    int fd = memfd_create("spoilt", MFD_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, size), 0);
    size_t n = (size_t)size < sizeof *h ? (size_t)size : sizeof *h; /* never grow the file */
    ck_assert_int_eq(pwrite(fd, h, n, 0), (ssize_t)n);
    weft_ipcq *q = NULL;
    weft_error_clear();
    int rc = weft_ipcq_attach(&q, fd);
    close(fd);
    if (rc == 0)
        ck_assert_weft(weft_ipcq_free(q), 0);
    else
        ck_assert_ptr_null(q); /* untouched on failure */
    return rc;
}

#define ck_spoilt(field_change, what)                                                  \
    do {                                                                               \
        struct ipcq_hdr h = good;                                                      \
        field_change;                                                                  \
        ck_assert_weft(attach_copy(&h, (off_t)good.size), WEFT_EBROKEN);               \
        ck_assert_msg(strstr(weft_error_message(), "bad " what) != NULL, "%s: \"%s\"", \
                      #field_change, weft_error_message());                            \
    } while (0)

START_TEST(attach_names_the_field_that_is_wrong)
{
    read_good_header();
    ck_assert_weft(attach_copy(&good, (off_t)good.size), 0); /* the copy itself is fine */
    ck_spoilt(h.magic++, "magic");
    ck_spoilt(h.version++, "version");
    ck_spoilt(h.hdr_size += 64, "header size");
    ck_spoilt(h.capacity = 0, "capacity");
    ck_spoilt(h.capacity = WEFT_IPCQ_CAPACITY_MAX + 1, "capacity");
    ck_spoilt(h.nslots = good.capacity - 1, "slot count");
    ck_spoilt(h.nslots = good.nslots + 1, "slot count");
    ck_spoilt(h.nslots = good.nslots * 2, "slot count");
    ck_spoilt(h.max_msg = WEFT_IPCQ_MSG_MAX + 1, "max_msg");
    ck_spoilt(h.slot_size += 8, "slot size");
    ck_spoilt(h.size += 8, "segment size");
    ck_spoilt(h.flags = 0x100, "flags");
    ck_spoilt(h.reserved = 1, "reserved word");
    ck_assert_weft(attach_copy(&good, (off_t)good.size + 4096), WEFT_EBROKEN);
    ck_assert_msg(strstr(weft_error_message(), "against the descriptor's") != NULL, "%s",
                  weft_error_message());
    ck_assert_weft(attach_copy(&good, 8), WEFT_EBROKEN); /* shorter than a header */
    ck_assert_msg(strstr(weft_error_message(), "too small") != NULL, "%s", weft_error_message());
}
END_TEST

WEFT_TEST_SUITE("ipcq_attach", 30, attach_names_the_field_that_is_wrong)
