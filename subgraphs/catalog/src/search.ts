import { Prisma, type PrismaClient } from '../../../kernel/src/prisma';
import { badUserInput } from '../../../kernel/src/errors';

export const MAX_SEARCH_LENGTH = 200;
export const MAX_SEARCH_WORDS = 10;
/** Shorter words are neither corrected nor kept in the dictionary: trigram similarity means little for them. */
const MIN_CORRECTABLE_LENGTH = 3;
const MAX_DICTIONARY_WORD_LENGTH = 50;
/** The last word is also a prefix (search as you type) from this length on. */
const MIN_PREFIX_LENGTH = 3;

const WORD = /[\p{L}\p{N}]+/gu;
const NUMBER = /^\p{N}+$/u;

/** The lowercased words of a text as search sees them: runs of letters and digits, in order. */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/** The words a product's text adds to the dictionary of known words, sorted (a fixed lock order for concurrent inserts). */
export function dictionaryWords(texts: ReadonlyArray<string | null | undefined>): string[] {
  const words = new Set<string>();
  for (const text of texts) {
    for (const word of wordsOf(text ?? '')) {
      if (word.length >= MIN_CORRECTABLE_LENGTH && word.length <= MAX_DICTIONARY_WORD_LENGTH && !NUMBER.test(word)) words.add(word);
    }
  }
  return [...words].sort();
}

/** Records the words of a product's name, category and description as known words, for typo correction. */
export function rememberWords(prisma: PrismaClient, texts: ReadonlyArray<string | null | undefined>) {
  const words = dictionaryWords(texts);
  return prisma.$executeRaw`
    INSERT INTO catalog.search_words (word) SELECT unnest(${words}::text[]) ON CONFLICT DO NOTHING`;
}

/** A search turned into a PostgreSQL tsquery (its text form), and the corrections made to misspelt words. */
export interface CompiledSearch {
  /** Null when nothing searchable is left (only stop words such as "the"): nothing matches. */
  tsquery: string | null;
  corrections: Record<string, string>;
}

/**
 * Full-text search over the products' `search_vector` (name A, category B, description C; English stemming).
 * Every word must match. A word that is not in the dictionary of known words (`catalog.search_words`)
 * may also match as the most similar known word (pg_trgm, similarity >= pg_trgm.similarity_threshold,
 * 0.3 by default), and the last word also matches as a prefix unless the search ends with a space.
 */
export class ProductSearch {
  constructor(private readonly prisma: PrismaClient) {}

  /** One query: stems each word, looks up a correction for unknown ones, and returns the tsquery to run. */
  async compile(search: string, field = 'filter.search'): Promise<CompiledSearch> {
    if (search.length > MAX_SEARCH_LENGTH) throw badUserInput(field, `The search must be at most ${MAX_SEARCH_LENGTH} characters long.`);
    const words = wordsOf(search);
    if (words.length > MAX_SEARCH_WORDS) throw badUserInput(field, `The search can have at most ${MAX_SEARCH_WORDS} words.`);
    if (words.length === 0) return { tsquery: null, corrections: {} };

    const last = words.at(-1)!;
    const prefix = !/\s$/.test(search) && last.length >= MIN_PREFIX_LENGTH;
    const correctable = words.map((word) => word.length >= MIN_CORRECTABLE_LENGTH && !NUMBER.test(word));
    // `%` (pg_trgm, in public) uses the trigram GIN index on search_words; the EXISTS is a primary-key probe.
    const rows = await this.prisma.$queryRaw<Array<{ word: string; term: string; correction: string | null }>>`
      SELECT w.word,
             (to_tsquery('english', w.word || CASE WHEN w.ord = ${words.length} AND ${prefix} THEN ':*' ELSE '' END)
               || coalesce(to_tsquery('english', fix.word), ''::tsquery))::text AS term,
             fix.word AS correction
      FROM unnest(${words}::text[], ${correctable}::boolean[]) WITH ORDINALITY AS w(word, correctable, ord)
      LEFT JOIN LATERAL (
        SELECT s.word FROM catalog.search_words s
        WHERE w.correctable
          AND NOT EXISTS (SELECT 1 FROM catalog.search_words known WHERE known.word = w.word)
          AND s.word OPERATOR(public.%) w.word
        ORDER BY public.similarity(s.word, w.word) DESC, s.word
        LIMIT 1
      ) fix ON true
      ORDER BY w.ord`;

    const terms = rows.map((row) => row.term).filter((term) => term !== '');
    const corrections = Object.fromEntries(rows.filter((row) => row.correction).map((row) => [row.word, row.correction!]));
    return { tsquery: terms.length ? terms.map((term) => `(${term})`).join(' & ') : null, corrections };
  }
}

/** Relevance weights for D, C, B, A: a word in the name counts 2.5x one in the category and 5x one in the description. */
export const RANK_WEIGHTS = Prisma.sql`'{0.1, 0.2, 0.4, 1.0}'::real[]`;
