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

/**
 * Full-text search over the products' `search_vector` (name A, category B, description C; English stemming).
 * Every word must match. A word that is not in the dictionary of known words (`catalog.search_words`)
 * may also match as the most similar known word (pg_trgm, similarity >= pg_trgm.similarity_threshold,
 * 0.3 by default), and the last word also matches as a prefix unless the search ends with a space.
 *
 * Returns the search as a SQL expression of type tsquery, to run inside the statement that uses it (no
 * round trip of its own). Null when the search has no words; the expression is NULL when they are all
 * stop words ("the and of"), and then nothing matches.
 */
export function searchQuery(search: string, field = 'filter.search'): Prisma.Sql | null {
  if (search.length > MAX_SEARCH_LENGTH) throw badUserInput(field, `The search must be at most ${MAX_SEARCH_LENGTH} characters long.`);
  const words = wordsOf(search);
  if (words.length > MAX_SEARCH_WORDS) throw badUserInput(field, `The search can have at most ${MAX_SEARCH_WORDS} words.`);
  if (words.length === 0) return null;

  const last = words.at(-1)!;
  const prefix = !/\s$/.test(search) && last.length >= MIN_PREFIX_LENGTH;
  const correctable = words.map((word) => word.length >= MIN_CORRECTABLE_LENGTH && !NUMBER.test(word));
  // Per word: its stem (a prefix for the last one) or, for a word the dictionary does not know, the
  // most similar known word. `%` (pg_trgm, in public) uses the trigram GIN index on search_words.
  return Prisma.sql`(
    SELECT (string_agg('(' || t.term || ')', ' & ' ORDER BY t.ord) FILTER (WHERE t.term <> ''))::tsquery
    FROM (
      SELECT w.ord,
             (to_tsquery('english', w.word || CASE WHEN w.ord = ${words.length} AND ${prefix} THEN ':*' ELSE '' END)
               || coalesce(to_tsquery('english', fix.word), ''::tsquery))::text AS term
      FROM unnest(${words}::text[], ${correctable}::boolean[]) WITH ORDINALITY AS w(word, correctable, ord)
      LEFT JOIN LATERAL (
        SELECT s.word FROM catalog.search_words s
        WHERE w.correctable
          AND NOT EXISTS (SELECT 1 FROM catalog.search_words known WHERE known.word = w.word)
          AND s.word OPERATOR(public.%) w.word
        ORDER BY public.similarity(s.word, w.word) DESC, s.word
        LIMIT 1
      ) fix ON true
    ) t
  )`;
}

/** Relevance weights for D, C, B, A: a word in the name counts 2.5x one in the category and 5x one in the description. */
export const RANK_WEIGHTS = Prisma.sql`'{0.1, 0.2, 0.4, 1.0}'::real[]`;
