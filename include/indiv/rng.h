/*
 * rng.h — reproducible random streams, one per (run seed, entity, purpose).
 *
 * Every random draw in indiv comes from a GSL generator seeded by this module from the
 * run's seed, an entity id (a consumer, an offer, an experiment cell) and a purpose
 * code. Streams never depend on the order in which entities are processed, so results
 * are the same whatever the thread count or shard. Never rand(), never time(NULL).
 *
 * The seed of a stream is a SplitMix64 mix of the three inputs (Steele, Lea & Flood,
 * "Fast splittable pseudorandom number generators", OOPSLA 2014). The generator is
 * xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * ACM TOMS 2021) registered as a gsl_rng_type, so every gsl_ran_* distribution works on
 * it. Why not MT19937: GSL seeds it from 32 bits only, and 100,000 consumers times a few
 * purposes would then share streams by the birthday bound; re-seeding MT also costs a
 * 624-word initialisation per consumer. xoshiro256** takes the full 64-bit seed
 * (expanded by SplitMix64, as its authors recommend) and re-seeds in four steps.
 */
#ifndef INDIV_RNG_H
#define INDIV_RNG_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

/* Purposes: one independent stream family per use. Append, never renumber: the codes
 * are part of what makes an old run reproducible. */
typedef enum indiv_rng_purpose {
    INDIV_RNG_WORLD_CONSUMER = 1, /* generator: a consumer's traits */
    INDIV_RNG_WORLD_HISTORY = 2,  /* generator: a consumer's event history */
    INDIV_RNG_WORLD_OFFER = 3,    /* generator: an offer's traits */
    INDIV_RNG_WORLD_GLOBAL = 4,   /* generator: world-level draws (category sizes...) */
    INDIV_RNG_DIVERGENCE = 5,     /* policy: serendipity draws */
    INDIV_RNG_RESPONSE = 6,       /* simulator: consumer reactions */
    INDIV_RNG_TRAIN = 7,          /* training: initialisation, shuffles */
    INDIV_RNG_SIM_ORGANIC = 8,    /* simulator: organic purchases of a round */
    INDIV_RNG_SIM_POLICY = 9,     /* simulator: random and persona reference policies */
    INDIV_RNG_SIM_PAIRS = 10,     /* simulator: pairs sampled for homogenisation */
    INDIV_RNG_EVALUATE = 11,      /* evaluation: random baseline, tie-breaks */
    INDIV_RNG_TRAIN_SAMPLE = 12,  /* training: negative examples of a consumer */
    INDIV_RNG_CONTROL = 13        /* policy: control group membership and its offer */
} indiv_rng_purpose;

/* SplitMix64 finaliser of (seed, entity, purpose): a 64-bit stream seed. */
uint64_t indiv_rng_derive(uint64_t seed, uint64_t entity, uint64_t purpose);

/* The generator type (gsl_rng_alloc(indiv_rng_xoshiro256ss) works too). */
extern const gsl_rng_type *const indiv_rng_xoshiro256ss;

/* A new xoshiro256** generator seeded for (seed, entity, purpose); NULL when out of
 * memory. Free with gsl_rng_free. */
gsl_rng *indiv_rng_new(uint64_t seed, uint64_t entity, indiv_rng_purpose purpose);

/* Re-seeds an existing generator for (seed, entity, purpose): no allocation, for loops
 * over consumers. */
void indiv_rng_reseed(gsl_rng *r, uint64_t seed, uint64_t entity,
                      indiv_rng_purpose purpose);

#endif /* INDIV_RNG_H */
