/* Reference frame dumper for crates/guest/tests/workloads_c.rs.
 *
 * Built by that test together with the benchmark's shared generators:
 *     cc -O2 -DWL_HOSTED -I<common> <common>/workloads.c dump_frames.c
 *
 * Usage: dump_frames KIND WIDTH HEIGHT STEPS
 *
 * KIND is a generator name (full, noise, scroll, box, static): the program
 * draws the first frame, then STEPS more, and after each one writes, as
 * little-endian 32-bit words:
 *     frame counter, counter as read back (-1 if unreadable),
 *     number of dirty rectangles n, n times (x, y, w, h),
 *     WIDTH * HEIGHT pixels, row by row.
 *
 * KIND "text" is the guest's 80x25 text-mode workload instead (WIDTH and
 * HEIGHT are ignored). It cannot be linked from the guest kernel, so it is
 * written out again below from its description, as an independent oracle.
 * The screen starts as the pattern cell[i] = i * 40503 + 12345 (mod 2^16);
 * after each of the STEPS frames the program writes the frame number (32
 * bits) and the 2000 cells (16 bits each), little-endian.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workloads.h"

static void put32(unsigned long v)
{
    unsigned char b[4];
    b[0] = (unsigned char)(v & 0xFF);
    b[1] = (unsigned char)((v >> 8) & 0xFF);
    b[2] = (unsigned char)((v >> 16) & 0xFF);
    b[3] = (unsigned char)((v >> 24) & 0xFF);
    fwrite(b, 1, 4, stdout);
}

static void put16(unsigned int v)
{
    unsigned char b[2];
    b[0] = (unsigned char)(v & 0xFF);
    b[1] = (unsigned char)((v >> 8) & 0xFF);
    fwrite(b, 1, 2, stdout);
}

/* ---- text mode ----------------------------------------------------------- */

enum { TCOLS = 80, TROWS = 25 };

static unsigned int next(unsigned int *state)
{
    unsigned int v = *state;
    v ^= v << 13;
    v ^= v >> 17;
    v ^= v << 5;
    *state = v;
    return v;
}

/* One frame: scroll up a row, new bottom row, counter in the corner. */
static void text_frame(unsigned short *cell, unsigned int number, unsigned int *state)
{
    int i;
    unsigned int v;
    unsigned int first, limit, colour;

    memmove(cell, cell + TCOLS, sizeof(cell[0]) * TCOLS * (TROWS - 1));

    first = next(state);
    limit = first % TCOLS;
    colour = ((first >> 8) & 3) != 0 ? 0x07 : 0x0A;
    for (i = 0; i < TCOLS; i++) {
        unsigned int r = next(state);
        unsigned int ch = ' ';
        if ((unsigned int)i < limit && (r & 7) != 0)
            ch = 'a' + (r >> 3) % 26;
        cell[(TROWS - 1) * TCOLS + i] = (unsigned short)((colour << 8) | ch);
    }

    v = number;
    for (i = 8; i-- > 0;) {
        cell[i] = (unsigned short)(0x0F00 | ('0' + v % 10));
        v /= 10;
    }
}

static int run_text(long steps)
{
    static unsigned short cell[TCOLS * TROWS];
    unsigned int number = 0, state = 0x2545F491u;
    long n;
    int i;

    for (i = 0; i < TCOLS * TROWS; i++)
        cell[i] = (unsigned short)(((unsigned int)i * 40503u + 12345u) & 0xFFFF);
    for (n = 0; n < steps; n++) {
        number++;
        text_frame(cell, number, &state);
        put32(number);
        for (i = 0; i < TCOLS * TROWS; i++)
            put16(cell[i]);
    }
    return 0;
}

/* ---- pixel workloads ---------------------------------------------------- */

static void emit(const wl_state *st)
{
    long shown = wl_read_counter(st->fb, st->pitch);
    int i;

    put32(st->frame);
    put32(shown < 0 ? 0xFFFFFFFFul : (unsigned long)shown);
    put32((unsigned long)st->nrects);
    for (i = 0; i < st->nrects; i++) {
        put32((unsigned long)st->rects[i].x);
        put32((unsigned long)st->rects[i].y);
        put32((unsigned long)st->rects[i].w);
        put32((unsigned long)st->rects[i].h);
    }
    for (i = 0; i < st->h; i++) {
        const wl_u32 *row = st->fb + (unsigned long)i * st->pitch;
        int x;
        for (x = 0; x < st->w; x++)
            put32(row[x]);
    }
}

int main(int argc, char **argv)
{
    static wl_state st;
    wl_u32 *fb;
    long w, h, steps, n;
    int kind;

    if (argc != 5) {
        fprintf(stderr, "usage: %s KIND WIDTH HEIGHT STEPS\n", argv[0]);
        return 2;
    }
    steps = strtol(argv[4], NULL, 10);
    if (strcmp(argv[1], "text") == 0)
        return run_text(steps);

    kind = wl_kind_from_name(argv[1], (int)strlen(argv[1]));
    w = strtol(argv[2], NULL, 10);
    h = strtol(argv[3], NULL, 10);
    if (kind < 0 || w <= 0 || h <= 0 || w > 16384 || h > 16384 || steps < 0) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    fb = calloc((size_t)w * (size_t)h, sizeof(*fb));
    if (!fb) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    wl_init(&st, kind, fb, (int)w, (int)h, (int)w);
    emit(&st);
    for (n = 0; n < steps; n++) {
        wl_step(&st);
        emit(&st);
    }
    free(fb);
    return fflush(stdout) == 0 ? 0 : 1;
}
