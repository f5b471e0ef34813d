/*
 * import.c — importers of real event logs: UCI Online Retail CSV and generic events CSV.
 *
 * One pass over the streamed input (src/csv.c) inside one transaction of the event log:
 * - consumers are written when first seen (their id is needed to order the events);
 * - offers are accumulated in memory (description and price counts per stock code) and
 *   written after the last row, with their final name, category and price, so no offer
 *   row is ever rewritten and no category is created that no offer uses;
 * - events are buffered as small records and written last, sorted by (consumer, time,
 *   input order): that is the storage order of the events table (WITHOUT ROWID, primary
 *   key consumer_id, ts, id), so the b-tree is appended to rather than split at random.
 * The fingerprint of the data file is known only after its last byte; the imports table
 * is checked then, before anything is committed. Any failure rolls the transaction back.
 *
 * Invariants: rows_read = rows_imported + rows_skipped; every skipped row is counted
 * under exactly one reason; a bad row is reported once (callback) or fails the import
 * (strict). The rules are documented in docs/import.md.
 */
#include "indiv/import.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "csv_internal.h"
#include "indiv/timeutil.h"

/* Rows between two progress reports: often enough for a live line, rare enough to cost
 * nothing (a report every ~20 ms at 400k rows/s). */
#define PROGRESS_EVERY 8192
/* Longest excerpt of an offending value quoted in a bad-row reason. */
#define VALUE_EXCERPT 40
/* Longest description the category rule looks at, and the most words it keeps. */
#define CATEGORY_TEXT_MAX  256
#define CATEGORY_WORDS_MAX 32
/* Category of a description with no usable word. */
#define CATEGORY_NONE "OTHER"

/* ---- small growable arrays and a string → int64 hash map ------------------------- */

/* Makes room for need elements of size elsz in *p (capacity *cap, doubling). */
static int grow(void **p, size_t *cap, size_t need, size_t elsz) {
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *q = realloc(*p, ncap * elsz);
    if (!q)
        return -1;
    *p = q;
    *cap = ncap;
    return 0;
}

/* Open addressing with linear probing; capacity a power of two, load factor <= 1/2, so
 * a probe sequence is short and always ends on an empty slot. Keys are owned copies. */
typedef struct strmap {
    char **keys;
    int64_t *vals;
    size_t cap, n;
} strmap;

static uint64_t hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static size_t strmap_slot(const strmap *m, const char *key) {
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* 1 and *val when key is present, 0 otherwise. */
static int strmap_get(const strmap *m, const char *key, int64_t *val) {
    if (m->n == 0)
        return 0;
    size_t i = strmap_slot(m, key);
    if (!m->keys[i])
        return 0;
    *val = m->vals[i];
    return 1;
}

static int strmap_rehash(strmap *m) {
    strmap big = {calloc(m->cap ? 2 * m->cap : 64, sizeof(char *)),
                  malloc((m->cap ? 2 * m->cap : 64) * sizeof(int64_t)),
                  m->cap ? 2 * m->cap : 64, m->n};
    if (!big.keys || !big.vals) {
        free(big.keys);
        free(big.vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = strmap_slot(&big, m->keys[i]);
            big.keys[j] = m->keys[i];
            big.vals[j] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    *m = big;
    return 0;
}

/* Sets key to val (inserting a copy of key when new). */
static int strmap_put(strmap *m, const char *key, int64_t val) {
    if (2 * (m->n + 1) > m->cap && strmap_rehash(m) < 0)
        return -1;
    size_t i = strmap_slot(m, key);
    if (!m->keys[i]) {
        if (!(m->keys[i] = strdup(key)))
            return -1;
        m->n++;
    }
    m->vals[i] = val;
    return 0;
}

static void strmap_free(strmap *m) {
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

/* ---- the category rule ------------------------------------------------------------- */

/* The three word lists are sorted by strcmp (bsearch). They were drawn from the
 * descriptions of the shared Online Retail sample; docs/import.md gives the rule. */
static const char *const stop_words[] = {"A",   "AN",   "AND",  "ARE", "AT",  "BE", "BY",
                                         "FOR", "FROM", "I",    "IN",  "IS",  "IT", "ITS",
                                         "ME",  "MY",   "NO",   "OF",  "ON",  "OR", "OUR",
                                         "THE", "TO",   "WITH", "YOU", "YOUR"};

/* Colours, sizes, materials, packaging and design words: they qualify a product, they
 * are not what it is. */
static const char *const modifier_words[] = {
    "ACRYLIC", "ANT",      "ANTIQUE",   "ASSORTED",  "ASST",         "ASSTD",   "BIG",
    "BLACK",   "BLUE",     "BROWN",     "CERAMIC",   "CHROME",       "CLEAR",   "CM",
    "COLOUR",  "COLOURED", "COLOURFUL", "COLOURS",   "COPPER",       "CREAM",   "DEC",
    "DESIGN",  "DOT",      "DOZEN",     "ENAMEL",    "FELT",         "FINISH",  "FLOCK",
    "GIANT",   "GOLD",     "GRAY",      "GREEN",     "GREY",         "IVORY",   "JACK",
    "JUMBO",   "LARGE",    "LGE",       "LILAC",     "MEDIUM",       "METAL",   "MINI",
    "MINT",    "MULTI",    "NATURAL",   "ORANGE",    "PACK",         "PAISLEY", "PASTEL",
    "PC",      "PCS",      "PIECE",     "PINK",      "POLKADOT",     "PRINT",   "PRINTED",
    "PURPLE",  "RED",      "RETRO",     "RETROSPOT", "SCANDINAVIAN", "SET",     "SILVER",
    "SIZE",    "SIZES",    "SMALL",     "SML",       "SPOT",         "SPOTTY",  "STRIPE",
    "STRIPED", "STRIPEY",  "TIER",      "TINY",      "TURQUOISE",    "UNION",   "VINTAGE",
    "WHITE",   "WOODEN",   "XL",        "XXL",       "YELLOW",       "ZINC"};

/* Product nouns: when one is present, the rightmost one is the category. */
static const char *const product_nouns[] = {
    "ALBUM",       "APRON",      "BAG",       "BALL",        "BALLOON",      "BANGLE",
    "BANK",        "BASKET",     "BAUBLE",    "BEAD",        "BEAKER",       "BELL",
    "BIN",         "BLACKBOARD", "BLANKET",   "BLOCK",       "BOARD",        "BOOK",
    "BOTTLE",      "BOWL",       "BOX",       "BRACELET",    "BROOCH",       "BRUSH",
    "BUCKET",      "BUNNY",      "BUNTING",   "CABINET",     "CADDY",        "CAKESTAND",
    "CALCULATOR",  "CALENDAR",   "CAN",       "CANDLE",      "CANDLEHOLDER", "CANDLEPOT",
    "CANDLESTICK", "CARD",       "CASE",      "CHAIN",       "CHAIR",        "CHALKBOARD",
    "CHARM",       "CHEST",      "CHOPSTICK", "CLIP",        "CLOCK",        "COASTER",
    "CONTAINER",   "COSY",       "COVER",     "CRACKER",     "CRATE",        "CRAYON",
    "CUP",         "CURTAIN",    "CUSHION",   "CUTLERY",     "CUTTER",       "DECORATION",
    "DIARY",       "DISH",       "DOILY",     "DOLL",        "DOORHANGER",   "DOORMAT",
    "DOORSIGN",    "DOORSTOP",   "EARRING",   "ENVELOPE",    "ERASER",       "FELTCRAFT",
    "FLANNEL",     "FLASK",      "FORK",      "FRAME",       "GAME",         "GARLAND",
    "GLASS",       "GLOVE",      "HAIRCLIP",  "HAMMOCK",     "HANDBAG",      "HANGER",
    "HAT",         "HEADPHONE",  "HOLDER",    "HOOK",        "INCENSE",      "JAR",
    "JIGSAW",      "JOURNAL",    "JUG",       "KEYRING",     "KIT",          "KNOB",
    "LADDER",      "LAMP",       "LAMPSHADE", "LANTERN",     "LETTER",       "LID",
    "LIGHT",       "MAGNET",     "MARBLE",    "MARKER",      "MATCH",        "MEMOBOARD",
    "MIRROR",      "MITT",       "MOBILE",    "MUG",         "NAPKIN",       "NECKLACE",
    "NIGHTLIGHT",  "NOTEBOOK",   "ORNAMENT",  "PAD",         "PAINT",        "PAN",
    "PARASOL",     "PASSPORT",   "PEG",       "PEN",         "PENCIL",       "PENDANT",
    "PHOTO",       "PHOTOFRAME", "PLACEMAT",  "PLANTER",     "PLAQUE",       "PLATE",
    "PLATTER",     "PLAYHOUSE",  "POSTCARD",  "POT",         "PUPPET",       "PURSE",
    "PUZZLE",      "QUILT",      "RACK",      "RIBBON",      "RING",         "RULER",
    "SAUCER",      "SCALE",      "SCARF",     "SCISSOR",     "SHARPENER",    "SHEET",
    "SHELF",       "SHOPPER",    "SIGN",      "SKETCHBOOK",  "SLIPPER",      "SOAP",
    "SPONGE",      "SPOON",      "STAND",     "STAR",        "STICK",        "STICKER",
    "STOCKING",    "STOOL",      "T-LIGHT",   "TAG",         "TAPE",         "TEACUP",
    "TEAPOT",      "TEASPOON",   "TEATOWEL",  "THERMOMETER", "THROW",        "TIN",
    "TISSUE",      "TOP",        "TORCH",     "TOWEL",       "TOY",          "TRAY",
    "TREE",        "TRIVET",     "TROWEL",    "TUBE",        "TUMBLER",      "UMBRELLA",
    "VASE",        "WALLET",     "WARMER",    "WASHBAG",     "WRAP",         "WREATH"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int cmp_word(const void *key, const void *elem) {
    return strcmp(key, *(const char *const *)elem);
}

static int in_list(const char *w, const char *const *list, size_t n) {
    return bsearch(w, list, n, sizeof *list, cmp_word) != NULL;
}

static int ends_with(const char *w, size_t len, const char *suffix) {
    size_t n = strlen(suffix);
    return len >= n && memcmp(w + len - n, suffix, n) == 0;
}

/* English plural to singular, in place, by suffix: -IES → -Y, -SSES/-XES/-CHES/-SHES/
 * -ZES lose -ES, other -S lose the S except after S, U, I or A (GLASS, CACTUS, IRIS,
 * CHRISTMAS). A possessive 'S is dropped first. Words shorter than 4 letters are kept. */
static void singularise(char *w) {
    size_t len = strlen(w);
    if (ends_with(w, len, "'S"))
        w[len -= 2] = '\0';
    if (len < 4)
        return;
    if (len > 4 && ends_with(w, len, "IES")) {
        strcpy(w + len - 3, "Y");
    } else if (ends_with(w, len, "SSES") || ends_with(w, len, "XES") ||
               ends_with(w, len, "CHES") || ends_with(w, len, "SHES") ||
               ends_with(w, len, "ZES")) {
        w[len - 2] = '\0';
    } else if (w[len - 1] == 'S' && !ends_with(w, len, "SS") &&
               !ends_with(w, len, "US") && !ends_with(w, len, "IS") &&
               !ends_with(w, len, "AS")) {
        w[len - 1] = '\0';
    }
}

static int word_char(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' || c == '-';
}

/* Splits the upper-cased text (cut at the first ", ") into words: runs of letters,
 * digits, ' and -, trimmed of ' and -; words with a digit or of one letter are dropped.
 * Words are NUL-terminated in place in buf. Returns the number of words. */
static size_t split_words(char *buf, char **words, size_t max) {
    char *cut = strstr(buf, ", ");
    if (cut)
        *cut = '\0';
    size_t n = 0;
    for (char *p = buf; *p && n < max;) {
        while (*p && !word_char((unsigned char)*p))
            p++;
        char *w = p;
        while (*p && word_char((unsigned char)*p))
            p++;
        char *end = p;
        if (*p)
            *p++ = '\0';
        while (w < end && (*w == '\'' || *w == '-'))
            w++;
        while (end > w && (end[-1] == '\'' || end[-1] == '-'))
            *--end = '\0';
        if (end - w < 2 || strpbrk(w, "0123456789"))
            continue;
        words[n++] = w;
    }
    return n;
}

/* Keeps the words that may name the product: singular, not a stop or modifier word, not
 * the design name before DESIGN, not an -ING word unless it is a product noun. */
static size_t keep_words(char **words, size_t n) {
    for (size_t i = 0; i < n; i++)
        singularise(words[i]);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i];
        size_t len = strlen(w);
        int noun = in_list(w, product_nouns, NELEM(product_nouns));
        if ((i + 1 < n && strcmp(words[i + 1], "DESIGN") == 0) ||
            in_list(w, stop_words, NELEM(stop_words)) ||
            in_list(w, modifier_words, NELEM(modifier_words)) ||
            (!noun && ends_with(w, len, "ING")))
            continue;
        words[k++] = words[i];
    }
    return k;
}

void indiv_import_category_of(const char *description, char *out, size_t cap) {
    char buf[CATEGORY_TEXT_MAX], *words[CATEGORY_WORDS_MAX];
    size_t i = 0;
    for (; description && description[i] && i + 1 < sizeof buf; i++)
        buf[i] = (char)toupper((unsigned char)description[i]);
    buf[i] = '\0';
    size_t n = keep_words(words, split_words(buf, words, CATEGORY_WORDS_MAX));
    const char *pick = n ? words[n - 1] : CATEGORY_NONE;
    for (size_t j = n; j-- > 0;)
        if (in_list(words[j], product_nouns, NELEM(product_nouns))) {
            pick = words[j];
            break;
        }
    if (cap)
        snprintf(out, cap, "%s", pick);
}

/* ---- options and formats ----------------------------------------------------------- */

void indiv_import_opts_init(indiv_import_opts *o) {
    memset(o, 0, sizeof *o);
    o->default_consent_profiling = 1;
    o->default_consent_contact = 1;
    o->default_channels = INDIV_CH_BIT(INDIV_CH_EMAIL);
}

int indiv_import_format_parse(const char *name, indiv_import_format *out) {
    if (name && strcmp(name, "online-retail") == 0)
        *out = INDIV_IMPORT_ONLINE_RETAIL;
    else if (name && strcmp(name, "events") == 0)
        *out = INDIV_IMPORT_EVENTS;
    else
        return INDIV_EINVAL;
    return INDIV_OK;
}

const char *indiv_import_format_name(indiv_import_format f) {
    return f == INDIV_IMPORT_ONLINE_RETAIL ? "online-retail"
           : f == INDIV_IMPORT_EVENTS      ? "events"
                                           : NULL;
}

/* ---- importer state ---------------------------------------------------------------- */

typedef struct desc_count {
    char *text;
    int64_t n;
} desc_count;

typedef struct price_count {
    double price;
    int64_t n_purchase, n_return;
} price_count;

/* An offer met in the input. id: 0 until written (Online Retail), the offer's id when it
 * is known (offers file or database), -1 when it is known to exist nowhere. */
typedef struct offer_acc {
    char *ext_id;
    int64_t id;
    desc_count *descs;
    size_t n_descs, cap_descs;
    price_count *prices;
    size_t n_prices, cap_prices;
} offer_acc;

/* An event waiting to be written; offer is an index into importer.offers, or -1. */
typedef struct pending_event {
    int64_t consumer_id, ts;
    double quantity, value;
    uint32_t seq; /* input order, breaks ties of the sort */
    int32_t offer;
    int16_t type, channel;
} pending_event;

/* Widest header map: the Online Retail columns. */
#define MAX_COLS 8

typedef struct importer {
    indiv_eventlog *log;
    const indiv_import_opts *o;
    indiv_import_summary *sum;
    indiv_error *err;
    const char *file;   /* name of the file being read, for reports */
    int companion;      /* reading an --offers or --consumers file */
    int cols[MAX_COLS]; /* column of each field of the current format, -1 when absent */
    strmap consumers;   /* ext_id → our id */
    strmap offer_ix;    /* ext_id → index into offers */
    offer_acc *offers;
    size_t n_offers, cap_offers;
    pending_event *events;
    size_t n_events, cap_events;
    /* Rows come grouped by invoice: the last consumer and date are cached. */
    char last_consumer[64];
    int64_t last_consumer_id;
    char last_date[32];
    int64_t last_ts;
    char *text; /* fields of the current row read as Latin-1 (fields_to_utf8) */
    size_t cap_text;
} importer;

static int oom(importer *im) {
    return indiv_error_set(im->err, INDIV_ENOMEM, "%s: out of memory", im->file);
}

static void importer_free(importer *im) {
    strmap_free(&im->consumers);
    strmap_free(&im->offer_ix);
    for (size_t i = 0; i < im->n_offers; i++) {
        offer_acc *a = &im->offers[i];
        for (size_t j = 0; j < a->n_descs; j++)
            free(a->descs[j].text);
        free(a->descs);
        free(a->prices);
        free(a->ext_id);
    }
    free(im->offers);
    free(im->events);
    free(im->text);
}

/* s without leading and trailing blanks, in place (fields are writable). */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Field c of the current format in row f; "" when the file has no such column. */
static const char *fld(const importer *im, char **f, int c) {
    return im->cols[c] >= 0 ? f[im->cols[c]] : "";
}

/* Field c trimmed in place; "" when absent. */
static char *fld_trim(const importer *im, char **f, int c) {
    static char empty[1];
    return im->cols[c] >= 0 ? trim(f[im->cols[c]]) : empty;
}

/* ---- skipped rows ------------------------------------------------------------------ */

/* Counts one skipped data row under reason (a short, stable string literal). */
static void count_reason(indiv_import_summary *sum, const char *reason, int bad) {
    size_t i = 0;
    while (i < sum->n_reasons && strcmp(sum->skipped[i].reason, reason) != 0)
        i++;
    if (i == sum->n_reasons) {
        if (i == INDIV_IMPORT_REASONS_MAX)
            i--; /* the reasons are a fixed set of fewer; this only guards the bound */
        else
            sum->n_reasons++;
        snprintf(sum->skipped[i].reason, INDIV_IMPORT_REASON_LEN, "%s", reason);
        sum->skipped[i].bad = bad;
    }
    sum->skipped[i].count++;
    sum->rows_skipped++;
}

/* A row skipped by design (no customer, not a product): counted, not reported. */
static int skip_row(importer *im, const char *reason) {
    count_reason(im->sum, reason, 0);
    return INDIV_OK;
}

/* Counts a bad row and reports detail: under strict the import then fails naming the
 * file, line and detail, otherwise the row is reported and skipped. Returns 0 to read
 * on, <0 to stop. */
static int report_bad(importer *im, long line, const char *reason, const char *detail) {
    if (im->companion)
        im->sum->companion_skipped++;
    else
        count_reason(im->sum, reason, 1);
    if (im->o->strict)
        return indiv_error_set(im->err, INDIV_EFORMAT,
                               "%s:%ld: %s (strict: the import stops at the first bad "
                               "row; nothing was written)",
                               im->file, line, detail);
    if (im->o->on_bad_row)
        im->o->on_bad_row(im->o->ctx, im->file, line, detail);
    return INDIV_OK;
}

/* A bad row for reason; value (may be NULL), the data at fault, is quoted, cut to
 * VALUE_EXCERPT bytes (a field can be 64 KiB long). */
static int bad_row(importer *im, long line, const char *reason, const char *value) {
    char detail[INDIV_IMPORT_REASON_LEN + VALUE_EXCERPT + 8];
    if (value)
        snprintf(detail, sizeof detail, "%s '%.*s'", reason, VALUE_EXCERPT, value);
    else
        snprintf(detail, sizeof detail, "%s", reason);
    return report_bad(im, line, reason, detail);
}

/* A malformed record: why is the reader's explanation, not data, so it is given whole
 * ("quote not closed before the end of the input (the lines after it are read again)"
 * must not be cut to its first 40 bytes). */
static int malformed_row(importer *im, long line, const char *why) {
    char detail[INDIV_ERROR_MSG_MAX + 32];
    snprintf(detail, sizeof detail, "malformed row '%s'", why);
    return report_bad(im, line, "malformed row", detail);
}

/* ---- field parsers ----------------------------------------------------------------- */

/* A decimal number: optional sign, digits, optional fraction and exponent; no hex, inf
 * or nan (which strtod would take), no surrounding blanks. */
static int parse_number(const char *s, double *out) {
    if (!*s || strspn(s, "0123456789.+-eE") != strlen(s))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || end == s || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* A whole number of at most 15 digits (exact in a double), optionally signed. */
static int parse_integer(const char *s, int64_t *out) {
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    size_t n = strspn(d, "0123456789");
    if (n == 0 || n > 15 || d[n])
        return -1;
    *out = strtoll(s, NULL, 10);
    return 0;
}

/* 0/1, no/yes, false/true, n/y (any case). */
static int parse_flag(const char *s, int *out) {
    static const char *const yes[] = {"1", "yes", "true", "y"};
    static const char *const no[] = {"0", "no", "false", "n"};
    for (size_t i = 0; i < NELEM(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

/* "email;sms" → mask of contactable channels; "none" → 0. */
static int parse_channels(const char *s, unsigned *mask) {
    char buf[128], *save = NULL;
    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    *mask = 0;
    for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        int ch;
        char name[32];
        snprintf(name, sizeof name, "%s", t);
        if (indiv_channel_parse(name, &ch) < 0)
            return -1;
        if (ch != INDIV_CH_NONE && !(INDIV_CH_BIT(ch) & INDIV_CH_CONTACTABLE))
            return -1;
        *mask |= ch == INDIV_CH_NONE ? 0u : INDIV_CH_BIT(ch);
    }
    return 0;
}

/* Copies s without leading and trailing blanks into out (cap bytes, cut if longer). */
static void trim_copy(const char *s, char *out, size_t cap) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* ---- text encoding ----------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1-4), 0 when s does not start one (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s) {
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
               : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
               : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                              : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

static int utf8_valid(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq(p);
        if (n == 0)
            return 0;
        p += n;
    }
    return 1;
}

/* s as UTF-8 into out (2 · strlen(s) + 1 bytes): a valid UTF-8 text is copied, any other
 * is read as Latin-1 (ISO 8859-1, each byte the code point of its value: the usual
 * encoding of files that are not UTF-8), so the database holds only UTF-8. */
static void latin1_to_utf8(const char *s, char *out) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80) {
            *out++ = (char)*p;
        } else {
            *out++ = (char)(0xC0 | (*p >> 6));
            *out++ = (char)(0x80 | (*p & 0x3F));
        }
    }
    *out = '\0';
}

char *indiv_import_utf8(const char *s) {
    if (!s)
        return NULL;
    if (utf8_valid(s))
        return strdup(s);
    char *out = malloc(2 * strlen(s) + 1);
    if (out)
        latin1_to_utf8(s, out);
    return out;
}

/* Points every field of f that is not valid UTF-8 at its Latin-1 reading, kept in
 * im->text (valid until the next record). */
static int fields_to_utf8(importer *im, char **f, size_t n) {
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += utf8_valid(f[i]) ? 0 : 2 * strlen(f[i]) + 1;
    if (need == 0)
        return INDIV_OK;
    if (grow((void **)&im->text, &im->cap_text, need, 1) < 0)
        return oom(im);
    char *at = im->text;
    for (size_t i = 0; i < n; i++)
        if (!utf8_valid(f[i])) {
            latin1_to_utf8(f[i], at);
            f[i] = at;
            at += strlen(at) + 1;
        }
    return INDIV_OK;
}

/* ---- reading ----------------------------------------------------------------------- */

typedef struct colspec {
    const char *name;
    int required;
} colspec;

/* Maps each column name of the header to spec index; unknown names are ignored.
 * Names compare case-insensitively, without blanks or a UTF-8 byte order mark. */
static int map_columns(importer *im, char **f, size_t n, const colspec *spec,
                       size_t nspec) {
    for (size_t j = 0; j < n; j++) {
        char name[64];
        trim_copy(strncmp(f[j], "\xEF\xBB\xBF", 3) == 0 ? f[j] + 3 : f[j], name,
                  sizeof name);
        for (size_t i = 0; i < nspec; i++) {
            if (strcasecmp(name, spec[i].name) != 0)
                continue;
            if (im->cols[i] >= 0)
                return indiv_error_set(im->err, INDIV_EFORMAT,
                                       "%s:1: column '%s' appears twice in the header",
                                       im->file, spec[i].name);
            im->cols[i] = (int)j;
        }
    }
    return INDIV_OK;
}

/* Reads the header of c into im->cols; *ncols is its width. */
static int read_header(importer *im, indiv_csv *c, const colspec *spec, size_t nspec,
                       const char *format, size_t *ncols) {
    char **f;
    size_t n;
    int rc = indiv_csv_next(c, &f, &n, im->err);
    if (rc == 0)
        return indiv_error_set(im->err, INDIV_EFORMAT,
                               "%s: empty input, expected a %s header line", im->file,
                               format);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < MAX_COLS; i++)
        im->cols[i] = -1;
    if ((rc = map_columns(im, f, n, spec, nspec)) < 0)
        return rc;
    for (size_t i = 0; i < nspec; i++)
        if (spec[i].required && im->cols[i] < 0)
            return indiv_error_set(im->err, INDIV_EFORMAT,
                                   "%s:1: not %s data: the header has no '%s' column",
                                   im->file, format, spec[i].name);
    *ncols = n;
    return INDIV_OK;
}

/* Next record of c: 1 a record, 0 the end, <0 fatal, 2 a malformed record (a stray
 * quote, a quote left open at the end of the input), described in why. */
static int next_record(importer *im, indiv_csv *c, char ***f, size_t *n, char *why,
                       size_t cap) {
    indiv_error local = {0};
    int rc = indiv_csv_next(c, f, n, &local);
    if (rc >= 0)
        return rc;
    if (rc != INDIV_EFORMAT)
        return indiv_error_set(im->err, rc, "%s", local.msg);
    const char *after = strstr(local.msg, ": "); /* the message after "file:line" */
    snprintf(why, cap, "%s", after ? after + 2 : local.msg);
    return 2;
}

static void progress(const importer *im, const char *stage, int64_t done, int64_t total) {
    if (im->o->on_progress)
        im->o->on_progress(im->o->ctx, stage, done, total);
}

typedef int (*row_fn)(importer *im, char **f, long line);

/* Reads every data row of c (whose header is ncols wide) through fn, counting them in
 * *rows. Blank lines are not rows. */
static int read_rows(importer *im, indiv_csv *c, size_t ncols, row_fn fn, int64_t *rows) {
    char **f, why[INDIV_ERROR_MSG_MAX];
    size_t n;
    int rc;
    while ((rc = next_record(im, c, &f, &n, why, sizeof why)) > 0) {
        if (rc == 1 && n == 1 && f[0][0] == '\0')
            continue;
        if (++*rows % PROGRESS_EVERY == 0 && !im->companion)
            progress(im, "read", *rows, 0);
        if (rc == 2) {
            rc = malformed_row(im, indiv_csv_line(c), why);
        } else if (n != ncols) {
            /* A quote opened by mistake joins lines: they are read again on their own. */
            int again = indiv_csv_reread(c);
            if (again < 0)
                return oom(im);
            snprintf(why, sizeof why, "%zu fields, the header has %zu%s", n, ncols,
                     again ? "; the lines after it are read again" : "");
            rc = malformed_row(im, indiv_csv_line(c), why);
        } else if ((rc = fields_to_utf8(im, f, n)) == INDIV_OK) {
            rc = fn(im, f, indiv_csv_line(c));
        }
        if (rc < 0)
            return rc;
    }
    return rc;
}

/* ---- consumers, offers, events ----------------------------------------------------- */

/* Our id of consumer ext; a new consumer gets the default consent and channels. */
static int consumer_id(importer *im, const char *ext, const char *country, int64_t *id) {
    if (strcmp(ext, im->last_consumer) == 0) {
        *id = im->last_consumer_id;
        return INDIV_OK;
    }
    if (!strmap_get(&im->consumers, ext, id)) {
        indiv_consumer_rec rec = {ext, im->o->default_consent_profiling != 0,
                                  im->o->default_consent_contact != 0,
                                  im->o->default_channels, country};
        int created;
        int rc = indiv_eventlog_add_consumer(im->log, &rec, id, &created, im->err);
        if (rc < 0)
            return rc;
        im->sum->consumers_new += created;
        if (strmap_put(&im->consumers, ext, *id) < 0)
            return oom(im);
    }
    snprintf(im->last_consumer, sizeof im->last_consumer, "%s", ext);
    im->last_consumer_id = *id;
    return INDIV_OK;
}

/* Index of offer ext in im->offers; a new entry gets id. *created (may be NULL) says
 * whether the entry is new. */
static int offer_index(importer *im, const char *ext, int64_t id, size_t *ix,
                       int *created) {
    int64_t v;
    if (created)
        *created = 0;
    if (strmap_get(&im->offer_ix, ext, &v)) {
        *ix = (size_t)v;
        return INDIV_OK;
    }
    if (grow((void **)&im->offers, &im->cap_offers, im->n_offers + 1, sizeof *im->offers))
        return oom(im);
    offer_acc *a = &im->offers[im->n_offers];
    memset(a, 0, sizeof *a);
    a->id = id;
    im->n_offers++; /* counted now so that importer_free frees ext_id on any path */
    if (!(a->ext_id = strdup(ext)) ||
        strmap_put(&im->offer_ix, ext, (int64_t)(im->n_offers - 1)) < 0)
        return oom(im);
    *ix = im->n_offers - 1;
    if (created)
        *created = 1;
    return INDIV_OK;
}

static int count_desc(importer *im, offer_acc *a, const char *desc) {
    if (!*desc)
        return INDIV_OK;
    for (size_t i = 0; i < a->n_descs; i++)
        if (strcmp(a->descs[i].text, desc) == 0) {
            a->descs[i].n++;
            return INDIV_OK;
        }
    if (grow((void **)&a->descs, &a->cap_descs, a->n_descs + 1, sizeof *a->descs) < 0)
        return oom(im);
    desc_count *d = &a->descs[a->n_descs];
    if (!(d->text = strdup(desc)))
        return oom(im);
    d->n = 1;
    a->n_descs++;
    return INDIV_OK;
}

static int count_price(importer *im, offer_acc *a, double price, int is_return) {
    size_t i = 0;
    while (i < a->n_prices && a->prices[i].price != price)
        i++;
    if (i == a->n_prices) {
        if (grow((void **)&a->prices, &a->cap_prices, i + 1, sizeof *a->prices) < 0)
            return oom(im);
        a->prices[a->n_prices++] = (price_count){price, 0, 0};
    }
    if (is_return)
        a->prices[i].n_return++;
    else
        a->prices[i].n_purchase++;
    return INDIV_OK;
}

static int push_event(importer *im, const pending_event *ev) {
    if (im->n_events >= UINT32_MAX)
        return indiv_error_set(im->err, INDIV_EINVAL,
                               "%s: more than %lu events in one import", im->file,
                               (unsigned long)UINT32_MAX);
    if (grow((void **)&im->events, &im->cap_events, im->n_events + 1, sizeof *ev) < 0)
        return oom(im);
    pending_event *p = &im->events[im->n_events];
    *p = *ev;
    p->seq = (uint32_t)im->n_events++;
    im->sum->rows_imported++;
    im->sum->by_type[ev->type]++;
    return INDIV_OK;
}

/* Storage order of the events table: consumer, time, then input order. */
static int cmp_event(const void *pa, const void *pb) {
    const pending_event *a = pa, *b = pb;
    if (a->consumer_id != b->consumer_id)
        return a->consumer_id < b->consumer_id ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ---- events the database holds already -------------------------------------------- */

/* The reason under which a row identical to a stored event is skipped. */
#define ALREADY_STORED "already in the database"

/* 1 when pending event p (not dropped) is the stored event ev: same consumer and time
 * (the caller's scan), offer, type, channel, quantity and value. */
static int same_event(const importer *im, const pending_event *p, const indiv_event *ev) {
    int64_t offer = p->offer >= 0 ? im->offers[p->offer].id : 0;
    return p->type >= 0 && p->type == ev->type && p->channel == ev->channel &&
           offer == ev->offer_id && p->quantity == ev->quantity && p->value == ev->value;
}

/* Drops, from the pending events [from, to) of one consumer at one time, one row per
 * stored event it repeats (so a row the file holds twice and the database once is
 * imported once more). */
static int drop_group(importer *im, size_t from, size_t to, indiv_event_cursor **cur) {
    const pending_event *g = &im->events[from];
    int rc = INDIV_OK;
    if (*cur)
        indiv_event_cursor_rebind(*cur, g->consumer_id, g->ts, g->ts + 1);
    else
        rc = indiv_eventlog_scan_consumer(im->log, g->consumer_id, g->ts, g->ts + 1, cur,
                                          im->err);
    indiv_event ev;
    while (rc == INDIV_OK && (rc = indiv_event_cursor_next(*cur, &ev, im->err)) == 1) {
        rc = INDIV_OK;
        for (size_t k = from; k < to; k++)
            if (same_event(im, &im->events[k], &ev)) {
                im->sum->rows_imported--;
                im->sum->by_type[im->events[k].type]--;
                count_reason(im->sum, ALREADY_STORED, 0);
                im->events[k].type = -1; /* dropped */
                break;
            }
    }
    return rc < 0 ? rc : INDIV_OK;
}

/* A later export that overlaps an earlier one (the nine-month file over the three-month
 * sample) would store the common rows twice, doubling purchases, popularity and
 * profiles without a word: rows identical to an event the database held before this
 * import are skipped, counted as ALREADY_STORED. Only rows no later than the newest
 * stored event are looked up (one seek per consumer and time), so appending newer data
 * costs nothing. --force imports every row, as it imports a repeated file. The events
 * are sorted (storage order) on return. */
static int drop_stored(importer *im) {
    if (im->n_events > 1)
        qsort(im->events, im->n_events, sizeof *im->events, cmp_event);
    int64_t last;
    int rc = indiv_eventlog_last_event_ts(im->log, &last, im->err);
    if (rc < 0 || last == INDIV_TS_NONE || im->o->force)
        return rc;
    indiv_event_cursor *cur = NULL;
    size_t n = im->n_events, kept = 0;
    for (size_t i = 0, j; rc == INDIV_OK && i < n; i = j) {
        for (j = i + 1; j < n && im->events[j].consumer_id == im->events[i].consumer_id &&
                        im->events[j].ts == im->events[i].ts;
             j++)
            ;
        if (im->events[i].ts <= last)
            rc = drop_group(im, i, j, &cur);
    }
    indiv_event_cursor_free(cur);
    for (size_t i = 0; rc == INDIV_OK && i < n; i++)
        if (im->events[i].type >= 0)
            im->events[kept++] = im->events[i];
    if (rc == INDIV_OK)
        im->n_events = kept;
    return rc;
}

/* Writes the pending events, sorted by drop_stored. */
static int write_events(importer *im) {
    int64_t n = (int64_t)im->n_events;
    for (int64_t i = 0; i < n; i++) {
        const pending_event *p = &im->events[i];
        indiv_event ev = {.consumer_id = p->consumer_id,
                          .ts = p->ts,
                          .offer_id = p->offer >= 0 ? im->offers[p->offer].id : 0,
                          .type = p->type,
                          .channel = p->channel,
                          .quantity = p->quantity,
                          .value = p->value};
        int rc = indiv_eventlog_add_event(im->log, &ev, im->err);
        if (rc < 0)
            return rc;
        if ((i + 1) % PROGRESS_EVERY == 0)
            progress(im, "write", i + 1, n);
    }
    if (n > 0)
        progress(im, "write", n, n);
    return INDIV_OK;
}

/* ---- Online Retail rows ------------------------------------------------------------ */

enum {
    OR_INVOICE,
    OR_CODE,
    OR_DESC,
    OR_QTY,
    OR_DATE,
    OR_PRICE,
    OR_CUSTOMER,
    OR_COUNTRY,
    OR_NCOLS
};

static const colspec or_cols[OR_NCOLS] = {
    {"InvoiceNo", 1},   {"StockCode", 1}, {"Description", 1}, {"Quantity", 1},
    {"InvoiceDate", 1}, {"UnitPrice", 1}, {"CustomerID", 1},  {"Country", 1}};

/* Stock codes that are not products (upper case, sorted for bsearch): postage (POST,
 * DOT, C2 carriage), fees and charges (AMAZONFEE, BANK CHARGES, CRUK commission),
 * manual lines (M), samples (S), discounts (D), adjustments (B, ADJUST*), tests, the
 * PADS filler line; and gift vouchers, by prefix. DCGS* codes are real goods of the
 * retailer's web shop and are products. */
static const char *const non_product_codes[] = {
    "ADJUST", "ADJUST2", "AMAZONFEE", "B", "BANK CHARGES", "C2",     "CRUK", "D", "DOT",
    "M",      "PADS",    "POST",      "S", "TEST001",      "TEST002"};
#define GIFT_VOUCHER_PREFIX "GIFT_0001_"

static int is_non_product(const char *code) {
    return in_list(code, non_product_codes, NELEM(non_product_codes)) ||
           strncmp(code, GIFT_VOUCHER_PREFIX, strlen(GIFT_VOUCHER_PREFIX)) == 0;
}

/* Reads 1 to max digits at *p into *v. */
static int small_number(const char **p, int max, int *v) {
    int n = 0;
    *v = 0;
    while (n < max && **p >= '0' && **p <= '9')
        *v = *v * 10 + (*(*p)++ - '0'), n++;
    return n > 0 && !(**p >= '0' && **p <= '9') ? 0 : -1;
}

/* The UCI distribution's own form "M/D/YYYY H:MM[:SS]" (month first: 12/1/2010 8:26 is
 * 1 December 2010) rewritten as ISO 8601 into iso (32 bytes); -1 when s is not that. */
static int us_date_to_iso(const char *s, char iso[32]) {
    int mo, d, y, h, mi, sec = 0;
    const char *p = s;
    if (small_number(&p, 2, &mo) < 0 || *p++ != '/' || small_number(&p, 2, &d) < 0 ||
        *p++ != '/' || small_number(&p, 4, &y) < 0 || y < 1000 || *p++ != ' ' ||
        small_number(&p, 2, &h) < 0 || *p++ != ':' || small_number(&p, 2, &mi) < 0)
        return -1;
    if (*p == ':' && (p++, small_number(&p, 2, &sec) < 0))
        return -1;
    if (*p)
        return -1;
    snprintf(iso, 32, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, sec);
    return 0;
}

/* "YYYY-MM-DD HH:MM[:SS]", or the UCI original's "M/D/YYYY H:MM", the retailer's local
 * time, taken as UTC (docs/import.md). */
static int or_date(importer *im, const char *s, int64_t *ts) {
    if (strcmp(s, im->last_date) == 0) {
        *ts = im->last_ts;
        return 0;
    }
    size_t len = strlen(s);
    char iso[32];
    if (len >= sizeof im->last_date)
        return -1;
    if (strchr(s, '/')
            ? us_date_to_iso(s, iso) < 0 || indiv_time_parse(iso, ts) < 0
            : (len != 16 && len != 19) || s[10] != ' ' || indiv_time_parse(s, ts) < 0)
        return -1;
    memcpy(im->last_date, s, len + 1);
    im->last_ts = *ts;
    return 0;
}

/* CustomerID "17850.0" or "17850" → "17850" (the source stores it as a float). */
static int or_customer(const char *s, char *out, size_t cap) {
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits >= cap)
        return -1;
    if (s[digits] && (s[digits] != '.' || s[digits + 1 + strspn(s + digits + 1, "0")]))
        return -1;
    memcpy(out, s, digits);
    out[digits] = '\0';
    return 0;
}

/* Upper-cased, trimmed stock code: "85123a" and "85123A" are one product. */
static void or_code(const char *s, char *out, size_t cap) {
    trim_copy(s, out, cap);
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

typedef struct or_fields {
    int64_t ts, qty;
    double price;
    int cancel;
    char code[64], customer[32];
} or_fields;

/* Parses the fields every row needs: 0 parsed, 1 bad (reported), <0 stop. */
static int or_parse(importer *im, char **f, long line, or_fields *r) {
    int rc;
    or_code(fld(im, f, OR_CODE), r->code, sizeof r->code);
    r->cancel = toupper((unsigned char)fld(im, f, OR_INVOICE)[0]) == 'C';
    if (or_date(im, fld(im, f, OR_DATE), &r->ts) < 0)
        rc = bad_row(im, line, "bad date", fld(im, f, OR_DATE));
    else if (parse_integer(fld(im, f, OR_QTY), &r->qty) < 0)
        rc = bad_row(im, line, "bad quantity", fld(im, f, OR_QTY));
    else if (parse_number(fld(im, f, OR_PRICE), &r->price) < 0)
        rc = bad_row(im, line, "bad unit price", fld(im, f, OR_PRICE));
    else if (!r->code[0])
        rc = bad_row(im, line, "no stock code", NULL);
    else
        return 0;
    return rc < 0 ? rc : 1;
}

/* Checks quantity and price against the kind of invoice: 0 good, 1 bad, <0 stop. */
static int or_check(importer *im, char **f, long line, or_fields *r) {
    int rc;
    if (or_customer(fld(im, f, OR_CUSTOMER), r->customer, sizeof r->customer) < 0)
        rc = bad_row(im, line, "bad customer id", fld(im, f, OR_CUSTOMER));
    else if (r->qty == 0)
        rc = bad_row(im, line, "zero quantity", NULL);
    else if (r->cancel && r->qty > 0)
        rc = bad_row(im, line, "positive quantity on a cancellation", fld(im, f, OR_QTY));
    else if (!r->cancel && r->qty < 0)
        rc = bad_row(im, line, "negative quantity on a purchase", fld(im, f, OR_QTY));
    else if (r->price < 0)
        rc = bad_row(im, line, "negative unit price", fld(im, f, OR_PRICE));
    else if (r->price == 0)
        rc = bad_row(im, line, "zero unit price", NULL);
    else
        return 0;
    return rc < 0 ? rc : 1;
}

/* Turns a checked row into a pending event, counting its description and price. */
static int or_event(importer *im, char **f, const or_fields *r) {
    const char *desc = fld_trim(im, f, OR_DESC); /* whole: the record limit bounds it */
    size_t ix;
    const char *country = fld(im, f, OR_COUNTRY);
    pending_event ev = {.type = r->cancel ? INDIV_EV_RETURN : INDIV_EV_PURCHASE,
                        .channel = INDIV_CH_WEB,
                        .ts = r->ts,
                        .quantity = (double)llabs(r->qty)};
    ev.value = ev.quantity * r->price;
    int rc = consumer_id(im, r->customer, *country ? country : NULL, &ev.consumer_id);
    if (rc < 0 || (rc = offer_index(im, r->code, 0, &ix, NULL)) < 0 ||
        (rc = count_desc(im, &im->offers[ix], desc)) < 0 ||
        (rc = count_price(im, &im->offers[ix], r->price, r->cancel)) < 0)
        return rc;
    ev.offer = (int32_t)ix;
    return push_event(im, &ev);
}

/* One Online Retail row; the order of the checks decides which reason a row with
 * several faults is counted under (docs/import.md, "Skip reasons"). */
static int or_row(importer *im, char **f, long line) {
    or_fields r;
    int rc = or_parse(im, f, line, &r);
    if (rc != 0)
        return rc < 0 ? rc : INDIV_OK;
    if (is_non_product(r.code))
        return skip_row(im, "non-product stock code");
    if (!fld(im, f, OR_CUSTOMER)[0])
        return skip_row(im, "no customer id");
    if ((rc = or_check(im, f, line, &r)) != 0)
        return rc < 0 ? rc : INDIV_OK;
    return or_event(im, f, &r);
}

/* Name: the most frequent description, ties to the smallest by strcmp; "" when none. */
static const char *best_desc(const offer_acc *a) {
    const desc_count *best = NULL;
    for (size_t i = 0; i < a->n_descs; i++) {
        const desc_count *d = &a->descs[i];
        if (!best || d->n > best->n ||
            (d->n == best->n && strcmp(d->text, best->text) < 0))
            best = d;
    }
    return best ? best->text : "";
}

/* Price: the most frequent unit price of the imported purchase rows (of the return rows
 * when there are none), ties to the lowest price. */
static double best_price(const offer_acc *a) {
    int any_purchase = 0;
    for (size_t i = 0; i < a->n_prices; i++)
        any_purchase |= a->prices[i].n_purchase > 0;
    double best = 0;
    int64_t best_n = 0;
    for (size_t i = 0; i < a->n_prices; i++) {
        const price_count *p = &a->prices[i];
        int64_t n = any_purchase ? p->n_purchase : p->n_return;
        if (n > best_n || (n == best_n && n > 0 && p->price < best)) {
            best = p->price;
            best_n = n;
        }
    }
    return best;
}

/* Writes the offers of an Online Retail import in order of first appearance. An offer
 * already in the database keeps its name, category and price. */
static int or_write_offers(importer *im) {
    for (size_t i = 0; i < im->n_offers; i++) {
        offer_acc *a = &im->offers[i];
        char category[64];
        const char *name = best_desc(a);
        indiv_import_category_of(name, category, sizeof category);
        indiv_offer_rec rec = {a->ext_id, name,          category,     best_price(a),
                               0,         INDIV_TS_NONE, INDIV_TS_NONE};
        int created;
        int rc = indiv_eventlog_add_offer(im->log, &rec, &a->id, &created, im->err);
        if (rc < 0)
            return rc;
        im->sum->offers_new += created;
    }
    return INDIV_OK;
}

/* ---- events format ----------------------------------------------------------------- */

enum { EV_CONSUMER, EV_OFFER, EV_TYPE, EV_TS, EV_CHANNEL, EV_QTY, EV_VALUE, EV_NCOLS };

static const colspec ev_cols[EV_NCOLS] = {
    {"consumer", 1}, {"offer", 1},    {"type", 1}, {"ts", 1},
    {"channel", 0},  {"quantity", 0}, {"value", 0}};

/* Longest source id, in bytes: source ids are short, and a longer one is a bad row
 * (never cut, which could merge two ids). */
#define ID_MAX 128

/* id (trimmed in place) into *out: 0, or 1 when longer than ID_MAX - 1 bytes. */
static int take_id(const importer *im, char **f, int c, const char **out) {
    *out = fld_trim(im, f, c);
    return strlen(*out) >= ID_MAX;
}

/* *offer: the index in im->offers of offer ext, known from the offers file, the database
 * or an earlier row; -1 when it is known nowhere. */
static int event_offer(importer *im, const char *ext, int32_t *offer) {
    size_t ix;
    int created, rc = offer_index(im, ext, -1, &ix, &created);
    if (rc < 0)
        return rc;
    if (created) {
        indiv_error local = {0};
        int64_t id;
        rc = indiv_eventlog_offer_id(im->log, ext, &id, &local);
        if (rc == INDIV_OK)
            im->offers[ix].id = id;
        else if (rc != INDIV_ENOTFOUND)
            return indiv_error_set(im->err, rc, "%s", local.msg);
    }
    *offer = im->offers[ix].id > 0 ? (int32_t)ix : -1;
    return INDIV_OK;
}

int indiv_import_event_parse(const indiv_event_text *t, indiv_event *ev,
                             indiv_event_problem *why) {
    const char *ch = t->channel ? t->channel : "", *q = t->quantity ? t->quantity : "";
    const char *v = t->value ? t->value : "";
    int ty = 0, c = INDIV_CH_NONE;
    const char *field = NULL, *reason = NULL, *bad = NULL;
    ev->quantity = 1;
    ev->value = 0;
    if (indiv_event_type_parse(t->type, &ty) < 0)
        field = "type", reason = "bad event type", bad = t->type;
    else if (indiv_time_parse(t->ts, &ev->ts) < 0)
        field = "ts", reason = "bad timestamp", bad = t->ts;
    else if (*ch && indiv_channel_parse(ch, &c) < 0)
        field = "channel", reason = "bad channel", bad = ch;
    else if (*q && parse_number(q, &ev->quantity) < 0)
        field = "quantity", reason = "bad quantity", bad = q;
    else if (*v && parse_number(v, &ev->value) < 0)
        field = "value", reason = "bad value", bad = v;
    else if (ev->quantity <= 0)
        field = "quantity", reason = "quantity not positive", bad = q;
    else if (ev->value < 0)
        field = "value", reason = "negative value", bad = v;
    else if (*v && ev->value == 0 && (ty == INDIV_EV_PURCHASE || ty == INDIV_EV_RETURN))
        field = "value", reason = "zero value on a purchase or return";
    if (why)
        *why = (indiv_event_problem){field, reason, bad};
    if (reason)
        return INDIV_EFORMAT;
    ev->type = ty;
    ev->channel = c;
    return INDIV_OK;
}

/* Parses type, time, channel, quantity and value: 0 parsed, 1 bad, <0 stop. */
static int ev_parse(importer *im, char **f, long line, pending_event *ev) {
    indiv_event_text t = {.type = fld(im, f, EV_TYPE),
                          .ts = fld(im, f, EV_TS),
                          .channel = fld(im, f, EV_CHANNEL),
                          .quantity = fld(im, f, EV_QTY),
                          .value = fld(im, f, EV_VALUE)};
    indiv_event e;
    indiv_event_problem why;
    if (indiv_import_event_parse(&t, &e, &why) < 0) {
        int rc = bad_row(im, line, why.reason, why.value);
        return rc < 0 ? rc : 1;
    }
    ev->ts = e.ts;
    ev->quantity = e.quantity;
    ev->value = e.value;
    ev->type = (int16_t)e.type;
    ev->channel = (int16_t)e.channel;
    return 0;
}

static int ev_row(importer *im, char **f, long line) {
    const char *consumer, *offer;
    pending_event ev = {0};
    if (take_id(im, f, EV_CONSUMER, &consumer) || take_id(im, f, EV_OFFER, &offer))
        return bad_row(im, line, "id longer than 127 bytes", NULL);
    if (!consumer[0])
        return bad_row(im, line, "no consumer id", NULL);
    int rc = ev_parse(im, f, line, &ev);
    if (rc != 0)
        return rc < 0 ? rc : INDIV_OK;
    ev.offer = -1;
    if (offer[0] && (rc = event_offer(im, offer, &ev.offer)) < 0)
        return rc;
    if (offer[0] && ev.offer < 0)
        return bad_row(im, line, "unknown offer", offer);
    if ((rc = consumer_id(im, consumer, NULL, &ev.consumer_id)) < 0)
        return rc;
    return push_event(im, &ev);
}

/* ---- companion files --------------------------------------------------------------- */

enum { OF_OFFER, OF_NAME, OF_CATEGORY, OF_PRICE, OF_MARGIN, OF_FROM, OF_TO, OF_NCOLS };

static const colspec of_cols[OF_NCOLS] = {
    {"offer", 1},  {"name", 0},       {"category", 1}, {"price", 0},
    {"margin", 0}, {"valid_from", 0}, {"valid_to", 0}};

/* Optional time field: "" → INDIV_TS_NONE. */
static int opt_time(const char *s, int64_t *ts) {
    *ts = INDIV_TS_NONE;
    return *s ? indiv_time_parse(s, ts) : 0;
}

/* Parses price, margin and validity of an offers row: 0 parsed, 1 bad, <0 stop. */
static int of_parse(importer *im, char **f, long line, indiv_offer_rec *rec) {
    const char *price = fld(im, f, OF_PRICE), *margin = fld(im, f, OF_MARGIN);
    const char *from = fld(im, f, OF_FROM), *to = fld(im, f, OF_TO);
    int rc;
    rec->price = rec->margin = 0;
    if (*price && (parse_number(price, &rec->price) < 0 || rec->price < 0))
        rc = bad_row(im, line, "bad price", price);
    else if (*margin && parse_number(margin, &rec->margin) < 0)
        rc = bad_row(im, line, "bad margin", margin);
    else if (opt_time(from, &rec->valid_from) < 0)
        rc = bad_row(im, line, "bad valid_from", from);
    else if (opt_time(to, &rec->valid_to) < 0)
        rc = bad_row(im, line, "bad valid_to", to);
    else if (*from && *to && rec->valid_to < rec->valid_from)
        rc = bad_row(im, line, "valid_to before valid_from", to);
    else
        return 0;
    return rc < 0 ? rc : 1;
}

/* An offers row: the offer is created, or left as it is when the database has it. */
static int of_row(importer *im, char **f, long line) {
    const char *ext, *category;
    int64_t id;
    if (take_id(im, f, OF_OFFER, &ext) || take_id(im, f, OF_CATEGORY, &category))
        return bad_row(im, line, "id longer than 127 bytes", NULL);
    if (!ext[0])
        return bad_row(im, line, "no offer id", NULL);
    if (strmap_get(&im->offer_ix, ext, &id))
        return bad_row(im, line, "duplicate offer", ext);
    if (!category[0])
        return bad_row(im, line, "no category", NULL);
    indiv_offer_rec rec = {ext, fld(im, f, OF_NAME), category, 0, 0, 0, 0};
    int created, rc = of_parse(im, f, line, &rec);
    if (rc != 0)
        return rc < 0 ? rc : INDIV_OK;
    if ((rc = indiv_eventlog_add_offer(im->log, &rec, &id, &created, im->err)) < 0)
        return rc;
    im->sum->offers_new += created;
    size_t ix;
    return offer_index(im, ext, id, &ix, NULL);
}

enum { CO_CONSUMER, CO_PROFILING, CO_CONTACT, CO_CHANNELS, CO_COUNTRY, CO_NCOLS };

static const colspec co_cols[CO_NCOLS] = {{"consumer", 1},
                                          {"consent_profiling", 0},
                                          {"consent_contact", 0},
                                          {"channels", 0},
                                          {"country", 0}};

/* Parses consent and channels; an empty cell takes the default. 0, 1 bad, <0 stop. */
static int co_parse(importer *im, char **f, long line, indiv_consumer_rec *rec) {
    const char *prof = fld(im, f, CO_PROFILING), *cont = fld(im, f, CO_CONTACT);
    const char *ch = fld(im, f, CO_CHANNELS);
    int rc;
    rec->consent_profiling = im->o->default_consent_profiling != 0;
    rec->consent_contact = im->o->default_consent_contact != 0;
    rec->channels = im->o->default_channels;
    if (*prof && parse_flag(prof, &rec->consent_profiling) < 0)
        rc = bad_row(im, line, "bad consent_profiling", prof);
    else if (*cont && parse_flag(cont, &rec->consent_contact) < 0)
        rc = bad_row(im, line, "bad consent_contact", cont);
    else if (*ch && parse_channels(ch, &rec->channels) < 0)
        rc = bad_row(im, line, "bad channels", ch);
    else
        return 0;
    return rc < 0 ? rc : 1;
}

/* A consumers row: the consumer is created, or left as it is when the database has it. */
static int co_row(importer *im, char **f, long line) {
    const char *ext;
    int64_t id;
    if (take_id(im, f, CO_CONSUMER, &ext))
        return bad_row(im, line, "id longer than 127 bytes", NULL);
    if (!ext[0])
        return bad_row(im, line, "no consumer id", NULL);
    if (strmap_get(&im->consumers, ext, &id))
        return bad_row(im, line, "duplicate consumer", ext);
    const char *country = fld(im, f, CO_COUNTRY);
    indiv_consumer_rec rec = {ext, 0, 0, 0, *country ? country : NULL};
    int created, rc = co_parse(im, f, line, &rec);
    if (rc != 0)
        return rc < 0 ? rc : INDIV_OK;
    if ((rc = indiv_eventlog_add_consumer(im->log, &rec, &id, &created, im->err)) < 0)
        return rc;
    im->sum->consumers_new += created;
    return strmap_put(&im->consumers, ext, id) < 0 ? oom(im) : INDIV_OK;
}

/* ---- the run ----------------------------------------------------------------------- */

/* Reads one whole file (header, then rows through fn). */
static int read_file(importer *im, indiv_csv *c, const colspec *spec, size_t nspec,
                     const char *format, row_fn fn, int64_t *rows) {
    size_t ncols = 0;
    im->file = indiv_csv_name(c);
    int rc = read_header(im, c, spec, nspec, format, &ncols);
    if (rc == INDIV_OK)
        rc = read_rows(im, c, ncols, fn, rows);
    return rc;
}

typedef struct inputs {
    indiv_csv *data, *offers, *consumers;
} inputs;

static void inputs_close(inputs *in) {
    indiv_csv_close(in->data);
    indiv_csv_close(in->offers);
    indiv_csv_close(in->consumers);
}

/* Opens every input before the database is touched: a missing file writes nothing. */
static int inputs_open(const indiv_import_opts *o, inputs *in, indiv_error *err) {
    int rc = indiv_csv_open(o->path, &in->data, err);
    if (rc == INDIV_OK && o->offers_path)
        rc = indiv_csv_open(o->offers_path, &in->offers, err);
    if (rc == INDIV_OK && o->consumers_path)
        rc = indiv_csv_open(o->consumers_path, &in->consumers, err);
    return rc;
}

static int check_opts(const indiv_import_opts *o, indiv_error *err) {
    if (!indiv_import_format_name(o->format))
        return indiv_error_set(err, INDIV_EINVAL, "import format %d is unknown",
                               (int)o->format);
    if (!o->path || !*o->path)
        return indiv_error_set(err, INDIV_EINVAL, "no input file to import");
    if (o->format != INDIV_IMPORT_EVENTS && (o->offers_path || o->consumers_path))
        return indiv_error_set(
            err, INDIV_EINVAL,
            "offers and consumers files go with the events format only");
    if (o->default_channels & ~(unsigned)INDIV_CH_CONTACTABLE)
        return indiv_error_set(err, INDIV_EINVAL,
                               "default channels 0x%x include non-contactable channels",
                               o->default_channels);
    return INDIV_OK;
}

/* Reads the companion files, then the data file. */
static int read_all(importer *im, const inputs *in) {
    int rc = INDIV_OK;
    im->companion = 1;
    if (in->offers)
        rc = read_file(im, in->offers, of_cols, OF_NCOLS, "offers", of_row,
                       &im->sum->companion_rows);
    if (rc == INDIV_OK && in->consumers)
        rc = read_file(im, in->consumers, co_cols, CO_NCOLS, "consumers", co_row,
                       &im->sum->companion_rows);
    im->companion = 0;
    if (rc < 0)
        return rc;
    if (im->o->format == INDIV_IMPORT_ONLINE_RETAIL)
        rc = read_file(im, in->data, or_cols, OR_NCOLS, "Online Retail", or_row,
                       &im->sum->rows_read);
    else
        rc = read_file(im, in->data, ev_cols, EV_NCOLS, "events", ev_row,
                       &im->sum->rows_read);
    if (rc == INDIV_OK && im->sum->rows_read > 0)
        progress(im, "read", im->sum->rows_read, im->sum->rows_read);
    return rc;
}

/* Refuses an input imported before (unless forced), naming the earlier import. */
static int check_duplicate(importer *im) {
    int found;
    char source[256];
    int rc = indiv_eventlog_import_find(im->log, im->sum->fingerprint, &found, source,
                                        sizeof source, im->err);
    if (rc < 0 || !found || im->o->force)
        return rc;
    return indiv_error_set(im->err, INDIV_EDUP,
                           "%s: already imported into %s (same content as the earlier "
                           "import of '%s', fingerprint %s); nothing was written; use "
                           "--force to import it again",
                           im->file, indiv_eventlog_path(im->log), source,
                           im->sum->fingerprint);
}

/* A data file whose rows were all skipped is refused: nothing usable was read, and
 * recording it as imported would refuse the corrected retry as a duplicate. */
static int check_usable(const importer *im) {
    const indiv_import_summary *s = im->sum;
    if (s->rows_read == 0 || s->rows_imported > 0)
        return INDIV_OK;
    size_t top = 0;
    for (size_t i = 1; i < s->n_reasons; i++)
        if (s->skipped[i].count > s->skipped[top].count)
            top = i;
    return indiv_error_set(im->err, INDIV_EFORMAT,
                           "%s: none of its %lld rows could be imported (most were "
                           "'%s': %lld); nothing was written%s",
                           im->file, (long long)s->rows_read, s->skipped[top].reason,
                           (long long)s->skipped[top].count,
                           strcmp(s->skipped[top].reason, "bad date") == 0
                               ? "; dates must be YYYY-MM-DD HH:MM[:SS] or M/D/YYYY H:MM"
                               : "");
}

/* Everything after the last row: duplicate check, offers, events, imports record. */
static int write_all(importer *im, const inputs *in) {
    snprintf(im->sum->fingerprint, sizeof im->sum->fingerprint, "%016llx",
             (unsigned long long)indiv_csv_fingerprint(in->data));
    int rc = check_usable(im);
    if (rc == INDIV_OK && im->sum->rows_read > 0) /* an empty file is never recorded */
        rc = check_duplicate(im);
    if (rc == INDIV_OK && im->o->format == INDIV_IMPORT_ONLINE_RETAIL)
        rc = or_write_offers(im);
    if (rc == INDIV_OK)
        rc = drop_stored(im);
    if (rc == INDIV_OK)
        rc = write_events(im);
    char *source = rc == INDIV_OK ? indiv_import_utf8(indiv_csv_name(in->data)) : NULL;
    if (rc == INDIV_OK && !source)
        rc = oom(im);
    if (rc < 0 || im->sum->rows_read == 0) {
        /* A file with no data rows (an empty day's export) is not recorded: recording it
         * would refuse the next empty file, whose bytes are the same, as a duplicate. */
        free(source);
        return rc;
    }
    indiv_import_rec rec = {.fingerprint = im->sum->fingerprint,
                            .format = indiv_import_format_name(im->o->format),
                            .source = source,
                            .imported_ts = (int64_t)time(NULL), /* when, not what */
                            .rows_read = im->sum->rows_read,
                            .rows_imported = im->sum->rows_imported,
                            .rows_skipped = im->sum->rows_skipped};
    rc = indiv_eventlog_import_record(im->log, &rec, im->err);
    free(source);
    return rc;
}

/* A generated world holds synthetic consumers with a ground truth: real events mixed
 * into it would be read as the world's own. Refused unless forced. */
static int check_not_generated(indiv_eventlog *log, const indiv_import_opts *o,
                               indiv_error *err) {
    char gen[64];
    if (o->force || indiv_eventlog_meta_get(log, "generator", gen, sizeof gen, NULL) != 0)
        return INDIV_OK;
    return indiv_error_set(
        err, INDIV_EINVAL,
        "%s is a generated world (made by %s): importing a real log "
        "into it would mix real and synthetic consumers; import into a "
        "new database, or use --force to do it anyway",
        indiv_eventlog_path(log), gen);
}

int indiv_import_run(indiv_eventlog *log, const indiv_import_opts *o,
                     indiv_import_summary *sum, indiv_error *err) {
    memset(sum, 0, sizeof *sum);
    int rc = check_opts(o, err);
    if (rc < 0)
        return rc;
    importer im = {.log = log, .o = o, .sum = sum, .err = err, .file = o->path};
    inputs in = {0};
    int began = 0;
    if ((rc = inputs_open(o, &in, err)) < 0 || (rc = indiv_eventlog_begin(log, err)) < 0)
        goto out;
    began = 1;
    /* Checked inside the write transaction (BEGIN IMMEDIATE): a generator that created
     * this database a moment ago and has not committed yet is waited for, then seen. */
    if ((rc = check_not_generated(log, o, err)) < 0)
        goto out;
    if ((rc = read_all(&im, &in)) == INDIV_OK && (rc = write_all(&im, &in)) == INDIV_OK)
        rc = indiv_eventlog_commit(log, err);
out:
    if (rc < 0 && began)
        indiv_eventlog_rollback(log);
    inputs_close(&in);
    importer_free(&im);
    return rc;
}
