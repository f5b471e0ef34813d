/*
 * rng.c — stream seeds from (run seed, entity, purpose) and the xoshiro256** generator
 * as a gsl_rng_type; see rng.h for the contract and the choice of generator.
 */
#include "indiv/rng.h"

/* SplitMix64 step (Steele, Lea & Flood 2014; constants from Vigna's reference). */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t mix(uint64_t x) {
    return splitmix64(&x);
}

uint64_t indiv_rng_derive(uint64_t seed, uint64_t entity, uint64_t purpose) {
    /* Chained mixing: each input passes through the full avalanche of the finaliser, so
     * neighbouring entities or seeds give unrelated streams. */
    return mix(mix(mix(seed) ^ entity) ^ purpose);
}

/* ---- xoshiro256** (Blackman & Vigna 2021) --------------------------------------- */

typedef struct {
    uint64_t s[4];
} xoshiro_state;

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(xoshiro_state *st) {
    uint64_t *s = st->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void xoshiro_set(void *vstate, unsigned long seed) {
    xoshiro_state *st = vstate;
    uint64_t x = (uint64_t)seed;
    for (int i = 0; i < 4; i++)
        st->s[i] = splitmix64(&x); /* never all zero: SplitMix64 is a bijection */
}

/* The upper 32 bits are the best of xoshiro's output; GSL integer draws use these. */
static unsigned long xoshiro_get(void *vstate) {
    return (unsigned long)(xoshiro_next(vstate) >> 32);
}

/* 53 random bits into [0, 1), as GSL requires for get_double. */
static double xoshiro_get_double(void *vstate) {
    return (double)(xoshiro_next(vstate) >> 11) * 0x1.0p-53;
}

static const gsl_rng_type xoshiro_type = {
    "indiv-xoshiro256**", 0xffffffffUL,      0, sizeof(xoshiro_state), xoshiro_set,
    xoshiro_get,          xoshiro_get_double};

const gsl_rng_type *const indiv_rng_xoshiro256ss = &xoshiro_type;

void indiv_rng_reseed(gsl_rng *r, uint64_t seed, uint64_t entity,
                      indiv_rng_purpose purpose) {
    gsl_rng_set(r, (unsigned long)indiv_rng_derive(seed, entity, (uint64_t)purpose));
}

gsl_rng *indiv_rng_new(uint64_t seed, uint64_t entity, indiv_rng_purpose purpose) {
    gsl_rng *r = gsl_rng_alloc(indiv_rng_xoshiro256ss);
    if (r)
        indiv_rng_reseed(r, seed, entity, purpose);
    return r;
}
