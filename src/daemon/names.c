/* Names of containers created without one: adjective_surname, as docker's, from our
 * own lists (136 adjectives, 241 scientists and engineers: 32776 names). */
#include "daemon/daemon-internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char *const adjectives[] = {
    "able",     "agile",    "airy",     "alert",    "amber",    "ample",    "amused",   "apt",
    "ardent",   "astute",   "awake",    "balmy",    "beaming",  "blissful", "bold",     "bouncy",
    "brave",    "breezy",   "bright",   "brisk",    "bubbly",   "busy",     "calm",     "candid",
    "careful",  "cheerful", "chipper",  "civil",    "clever",   "cosmic",   "crisp",    "curious",
    "dapper",   "daring",   "dazzling", "decent",   "deft",     "devoted",  "diligent", "dreamy",
    "eager",    "earnest",  "easy",     "elated",   "elegant",  "epic",     "exact",    "fair",
    "faithful", "fancy",    "fearless", "festive",  "fierce",   "fleet",    "fluent",   "focused",
    "fond",     "frank",    "friendly", "frosty",   "gallant",  "generous", "gentle",   "giddy",
    "glad",     "gleaming", "golden",   "graceful", "grand",    "hardy",    "helpful",  "heroic",
    "honest",   "hopeful",  "humble",   "jolly",    "jovial",   "joyful",   "keen",     "kind",
    "lively",   "loyal",    "lucid",    "lucky",    "magical",  "majestic", "mellow",   "merry",
    "mighty",   "modest",   "nimble",   "noble",    "patient",  "peaceful", "plucky",   "polite",
    "proud",    "quick",    "quiet",    "radiant",  "rapid",    "ready",    "regal",    "relaxed",
    "robust",   "rosy",     "serene",   "sharp",    "shiny",    "silent",   "sincere",  "sleek",
    "smart",    "snappy",   "snug",     "spry",     "steady",   "stoic",    "sturdy",   "sunny",
    "swift",    "tender",   "thrifty",  "tidy",     "tranquil", "trusty",   "upbeat",   "valiant",
    "vibrant",  "vivid",    "warm",     "wise",     "witty",    "zany",     "zealous",  "zesty",
};

static const char *const surnames[] = {
    "abel",         "agassiz",     "agnesi",        "alhazen",      "ampere",
    "anning",       "archimedes",  "aristarchus",   "arrhenius",    "avogadro",
    "babbage",      "backus",      "banach",        "bardeen",      "barton",
    "bell",         "berners",     "bernoulli",     "bessel",       "bethe",
    "bohr",         "boltzmann",   "boole",         "born",         "bose",
    "boyle",        "bragg",       "brahe",         "brattain",     "broglie",
    "brunel",       "burnell",     "cantor",        "cardano",      "carnot",
    "carson",       "cauchy",      "cavendish",     "cayley",       "celsius",
    "cerf",         "chadwick",    "chandrasekhar", "chebyshev",    "clausius",
    "colden",       "compton",     "conway",        "copernicus",   "corbato",
    "coulomb",      "crick",       "curie",         "cuvier",       "dalton",
    "darwin",       "davy",        "dedekind",      "democritus",   "descartes",
    "dijkstra",     "dirac",       "doppler",       "dyson",        "eddington",
    "edison",       "ehrenfest",   "einstein",      "elion",        "engelbart",
    "eratosthenes", "erdos",       "euclid",        "euler",        "faraday",
    "fermat",       "fermi",       "feynman",       "fibonacci",    "fleming",
    "fourier",      "franklin",    "fresnel",       "galileo",      "galois",
    "galvani",      "gauss",       "gibbs",         "godel",        "goodall",
    "gosling",      "gray",        "haber",         "hadamard",     "halley",
    "hamilton",     "hamming",     "harvey",        "hawking",      "heaviside",
    "heisenberg",   "helmholtz",   "hertz",         "hilbert",      "hippocrates",
    "hodgkin",      "hofstadter",  "hooke",         "hopper",       "hoyle",
    "hubble",       "huygens",     "hypatia",       "jacobi",       "jemison",
    "jenner",       "johnson",     "joule",         "kahan",        "kapitsa",
    "kelvin",       "kepler",      "kernighan",     "khayyam",      "kilby",
    "kirchhoff",    "knuth",       "kolmogorov",    "kovalevskaya", "lagrange",
    "lamarr",       "lambert",     "lamport",       "landau",       "laplace",
    "lavoisier",    "leakey",      "leavitt",       "lebesgue",     "leibniz",
    "lemaitre",     "liskov",      "lister",        "lorentz",      "lovelace",
    "lyell",        "mach",        "maclaurin",     "marconi",      "markov",
    "maxwell",      "mcclintock",  "mcnulty",       "meitner",      "mendel",
    "mendeleev",    "merian",      "michelson",     "millikan",     "minkowski",
    "mirzakhani",   "mobius",      "moore",         "morse",        "moseley",
    "napier",       "nash",        "neumann",       "newton",       "nightingale",
    "nobel",        "noether",     "noyce",         "nyquist",      "oersted",
    "ohm",          "oppenheimer", "ostrom",        "pascal",       "pasteur",
    "pauli",        "pauling",     "payne",         "peano",        "perlman",
    "planck",       "poincare",    "poisson",       "ptolemy",      "pythagoras",
    "raman",        "ramanujan",   "rayleigh",      "riemann",      "ritchie",
    "rontgen",      "rubin",       "russell",       "rutherford",   "sagan",
    "salk",         "sanger",      "schrodinger",   "shannon",      "shockley",
    "snell",        "sommerfeld",  "stallman",      "stokes",       "swartz",
    "szilard",      "tarski",      "tesla",         "thales",       "thompson",
    "thomson",      "torvalds",    "turing",        "tyndall",      "vaughan",
    "venn",         "volta",       "wallace",       "watson",       "watt",
    "weber",        "wegener",     "wiener",        "wiles",        "wilkes",
    "wilson",       "wirth",       "wozniak",       "wright",       "wu",
    "yalow",        "yonath",      "young",         "yukawa",       "zuse",
    "zwicky",
};

size_t dmn_names_count(void)
{
    return (sizeof(adjectives) / sizeof(*adjectives)) * (sizeof(surnames) / sizeof(*surnames));
}

static uint32_t random_u32(void)
{
    uint32_t v;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    return (uint32_t)random();
}

char *dmn_name_random(unsigned retry)
{
    const char *a = adjectives[random_u32() % (sizeof(adjectives) / sizeof(*adjectives))];
    const char *s = surnames[random_u32() % (sizeof(surnames) / sizeof(*surnames))];
    if (retry == 0)
        return ctr_xasprintf("%s_%s", a, s);
    /* after a collision docker appends a digit: more room, still readable */
    return ctr_xasprintf("%s_%s%u", a, s, random_u32() % 10);
}

bool dmn_name_in_use_locked(struct dmn *d, const char *name)
{
    for (size_t i = 0; i < d->n_ctrs; i++)
        if (strcmp(d->ctrs[i]->name, name) == 0)
            return true; /* containers still being created included: they hold theirs */
    return false;
}

char *dmn_name_generate_locked(struct dmn *d, const char *id)
{
    for (unsigned retry = 0; retry < 16; retry++) {
        char *name = dmn_name_random(retry);
        if (!dmn_name_in_use_locked(d, name))
            return name;
        free(name);
    }
    return ctr_xstrndup(id, 12);
}
