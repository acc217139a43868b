/*
 * test_image.c - the image note reader (toolchain/image.h) on images it
 * must refuse: every offset and size in the file is the file's word, and
 * `mgd run` and the spt tender read any file they are given. Each case
 * builds a small ELF file by hand; the valid one shows the cases differ
 * from it only in the broken field.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/include/abi/image_note.h"
#include "toolchain/image.h"

static const char TEXT[] = "mgd-image 1\nname hello\ntarget unix\narch x86_64\nabi 1\n"
                           "device block disk\n";

/* An ELF file with one PT_NOTE segment holding one note owned by `name`,
 * whose header says `descsz` bytes of descriptor while the segment holds
 * `desc_bytes` of it (padded to 4); extra bytes follow the segment in the
 * file. Written to a temporary file whose path is returned. */
static char *write_image(uint32_t descsz, const char *desc, size_t desc_bytes, size_t extra)
{
    unsigned char buf[4096] = {0};
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_phoff = sizeof *eh;
    eh->e_ehsize = sizeof *eh;
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 1;
    size_t off = sizeof *eh + sizeof(Elf64_Phdr), p = off;
    uint32_t nh[3] = {sizeof MG_IMAGE_NOTE_NAME, descsz, MG_IMAGE_NOTE_TYPE};
    memcpy(buf + p, nh, sizeof nh);
    p += sizeof nh;
    memcpy(buf + p, MG_IMAGE_NOTE_NAME, sizeof MG_IMAGE_NOTE_NAME);
    p += (sizeof MG_IMAGE_NOTE_NAME + 3) & ~3u;
    memcpy(buf + p, desc, desc_bytes);
    p += (desc_bytes + 3) & ~(size_t)3;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof *eh);
    ph->p_type = PT_NOTE;
    ph->p_offset = off;
    ph->p_filesz = ph->p_memsz = p - off;
    ph->p_align = 4;
    /* what follows the segment: more text, as a reader that ran past the
     * segment would find it */
    memset(buf + p, 'x', extra);
    p += extra;
    cr_assert_leq(p, sizeof buf);
    char *path = strdup("/tmp/mgd-test-image-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, buf, p), (ssize_t)p);
    close(fd);
    return path;
}

static int read_image(char *path, mg_image_info *info, mg_err *err)
{
    int rc = mg_image_read_info(path, info, err);
    unlink(path);
    free(path);
    return rc;
}

Test(image, valid_note_is_read)
{
    mg_image_info info;
    mg_err err = {0};
    char *path = write_image(sizeof TEXT, TEXT, sizeof TEXT, 16);
    cr_assert_eq(read_image(path, &info, &err), 0, "%s", err.msg);
    cr_assert_str_eq(info.name, "hello");
    cr_assert_str_eq(info.target, "unix");
    cr_assert_eq(info.n_devices, 1);
    cr_assert_str_eq(info.devices[0].name, "disk");
    mg_image_info_free(&info);
}

Test(image, descriptor_past_the_segment_is_refused)
{
    /* The whole text and its NUL lie in the segment, but the note's header
     * says its descriptor goes on 8 bytes past the segment's end: the note
     * is malformed, and a reader that trusted descsz would read outside
     * the segment (here into the file's following bytes). */
    mg_image_info info;
    mg_err err = {0};
    char *path = write_image(sizeof TEXT + 8, TEXT, sizeof TEXT, 64);
    cr_assert_eq(read_image(path, &info, &err), -1, "a descriptor past its segment was read");
    cr_assert(strstr(err.msg, "is not an mgd image"), "%s", err.msg);
    /* one byte past is as wrong as eight (descsz is rounded up to 4: 4 more) */
    path = write_image(((sizeof TEXT + 3) & ~3u) + 1, TEXT, sizeof TEXT, 64);
    cr_assert_eq(read_image(path, &info, &err), -1, "a descriptor 1 byte past its segment");
}

Test(image, descriptor_size_overflowing_is_refused)
{
    mg_image_info info;
    mg_err err = {0};
    char *path = write_image(UINT32_MAX, TEXT, sizeof TEXT, 0);
    cr_assert_eq(read_image(path, &info, &err), -1);
    cr_assert(strstr(err.msg, "is not an mgd image"), "%s", err.msg);
}

Test(image, note_that_is_not_text_of_the_format_is_malformed)
{
    mg_image_info info;
    mg_err err = {0};
    static const char bad[] = "mgd-image 1\nname only\n";
    char *path = write_image(sizeof bad, bad, sizeof bad, 0);
    cr_assert_eq(read_image(path, &info, &err), -1);
    cr_assert(strstr(err.msg, "malformed"), "%s", err.msg);
}
