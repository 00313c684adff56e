import { LRUCache } from 'lru-cache';
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

/** A search's words as the catalog looks them up: each one's tsquery text (`word`, or `word:*` for a prefix) and whether it may be corrected. */
export interface SearchWords {
  words: string[];
  /** Per word: what `to_tsquery` gets (the last word as a prefix, `word:*`, while it is being typed). */
  queries: string[];
  correctable: boolean[];
}

/**
 * Checks a search and splits it into words. Null when it has no words ("", "!?"): no search at all.
 * Every word must match; the last word also matches as a prefix unless the search ends with a space.
 */
export function searchWords(search: string, field = 'filter.search'): SearchWords | null {
  if (search.length > MAX_SEARCH_LENGTH) throw badUserInput(field, `The search must be at most ${MAX_SEARCH_LENGTH} characters long.`);
  const words = wordsOf(search);
  if (words.length > MAX_SEARCH_WORDS) throw badUserInput(field, `The search can have at most ${MAX_SEARCH_WORDS} words.`);
  if (words.length === 0) return null;
  const prefix = !/\s$/.test(search) && words.at(-1)!.length >= MIN_PREFIX_LENGTH;
  return {
    words,
    queries: words.map((word, i) => (prefix && i === words.length - 1 ? `${word}:*` : word)),
    correctable: words.map((word) => word.length >= MIN_CORRECTABLE_LENGTH && !NUMBER.test(word)),
  };
}

/**
 * How a search statement gets its tsquery. `query` is the tsquery expression; when some word's term is not
 * remembered, `words` is a CTE (named `search_terms`) that computes the missing ones, `columns` returns them
 * with the statement's rows, and `learn` reads them back from the first row. Otherwise the tsquery is one
 * parameter and the statement does no dictionary work at all.
 */
export interface SearchQuery {
  query: Prisma.Sql;
  words: Prisma.Sql | null;
  columns: Prisma.Sql | null;
  learn(row: SearchTermsRow | undefined): void;
}

/** What `columns` adds to a row: per word, its term and whether it holds for good. */
export interface SearchTermsRow {
  searchTerms?: string[] | null;
  searchTermsStable?: boolean[] | null;
}

/** A word's part of the tsquery, and until when it holds (Infinity: for good). */
interface Term {
  text: string;
  until: number;
}

/** How long the correction of an unknown word is reused when no write of this process changed the dictionary meanwhile. */
export const CORRECTION_TTL_MS = 5_000;
const MAX_TERMS = 20_000;

/** `string_agg('(' || term || ')', ' & ') FILTER (WHERE term <> '')`: a stop word's term is empty; NULL when nothing is left. */
function andTerms(terms: readonly string[]): string | null {
  const kept = terms.filter((term) => term !== '');
  return kept.length ? kept.map((term) => `(${term})`).join(' & ') : null;
}

/**
 * Full-text search over the products' `search_vector` (name A, category B, description C; English stemming).
 * Each word's term is its stem (a prefix for the last word while it is being typed) or, for a word that
 * is not in the dictionary of known words (`catalog.search_words`), its stem OR the most similar known word
 * (pg_trgm, similarity >= pg_trgm.similarity_threshold, 0.3 by default). The terms are ANDed.
 *
 * The terms are dictionary data, not search results, and this process remembers them: the dictionary only
 * grows, so a word it knows (or one too short to correct) keeps its term for good. The correction of an
 * unknown word may change when words are added: it is reused for at most CORRECTION_TTL_MS, and not at all
 * after a write of this process added words (`changed()`); another replica's new words count within that time.
 */
export class SearchDictionary {
  private readonly terms = new LRUCache<string, Term>({ max: MAX_TERMS });
  /** Bumped by `changed()`: a statement that began before it does not store the corrections it read. */
  private generation = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Words may have been added to the dictionary: corrections are looked up again. Call it after the write commits. */
  changed(): void {
    this.generation++;
    const corrections = [...this.terms.entries()].filter(([, term]) => term.until !== Infinity);
    for (const [key] of corrections) this.terms.delete(key);
  }

  /** The tsquery of a search, for a statement to use (see SearchQuery). */
  query(search: SearchWords): SearchQuery {
    const now = this.now();
    const remembered = search.queries.map((query) => {
      const term = this.terms.get(query);
      return term && term.until > now ? term.text : null;
    });
    if (remembered.every((term) => term !== null)) {
      return { query: Prisma.sql`${andTerms(remembered as string[])}::tsquery`, words: null, columns: null, learn: () => {} };
    }
    const generation = this.generation;
    const { words, queries, correctable } = search;
    // Per word without a remembered term: its stem, OR'd with the most similar known word when the dictionary
    // does not know it. `%` (pg_trgm, in public) uses the trigram GIN index on search_words.
    const terms = Prisma.sql`
      search_terms AS MATERIALIZED (
        SELECT w.ord,
               coalesce(w.remembered, (to_tsquery('english', w.query) || coalesce(to_tsquery('english', fix.word), ''::tsquery))::text) AS term,
               w.remembered IS NULL AND (NOT w.correctable OR EXISTS (SELECT 1 FROM catalog.search_words known WHERE known.word = w.word)) AS stable
        FROM unnest(${words}::text[], ${queries}::text[], ${correctable}::boolean[], ${remembered}::text[])
          WITH ORDINALITY AS w(word, query, correctable, remembered, ord)
        LEFT JOIN LATERAL (
          SELECT s.word FROM catalog.search_words s
          WHERE w.remembered IS NULL AND w.correctable
            AND NOT EXISTS (SELECT 1 FROM catalog.search_words known WHERE known.word = w.word)
            AND s.word OPERATOR(public.%) w.word
          ORDER BY public.similarity(s.word, w.word) DESC, s.word
          LIMIT 1
        ) fix ON true
      ),
      search AS MATERIALIZED (
        SELECT (string_agg('(' || term || ')', ' & ' ORDER BY ord) FILTER (WHERE term <> ''))::tsquery AS query,
               array_agg(term ORDER BY ord) AS terms, array_agg(stable ORDER BY ord) AS stable
        FROM search_terms
      )`;
    return {
      query: Prisma.sql`(SELECT query FROM search)`,
      words: terms,
      columns: Prisma.sql`(SELECT terms FROM search) AS "searchTerms", (SELECT stable FROM search) AS "searchTermsStable"`,
      learn: (row) => {
        if (!row?.searchTerms || !row.searchTermsStable) return;
        const until = this.now() + CORRECTION_TTL_MS;
        row.searchTerms.forEach((text, i) => {
          if (remembered[i] !== null) return;
          // A known word's term never changes; a correction only counts while no write of this process intervened.
          if (row.searchTermsStable![i]) this.terms.set(queries[i]!, { text, until: Infinity });
          else if (generation === this.generation) this.terms.set(queries[i]!, { text, until });
        });
      },
    };
  }
}

/** Relevance weights for D, C, B, A: a word in the name counts 2.5x one in the category and 5x one in the description. */
export const RANK_WEIGHTS = Prisma.sql`'{0.1, 0.2, 0.4, 1.0}'::real[]`;
