import { makeExecutableSchema } from '@graphql-tools/schema'
import { createYoga } from 'graphql-yoga'
import { loadCacheDirectiveTypeDefs } from '../../src/graphql/index.js'
import { type CreateCacheOptions, createCache, type LoadCache } from '../../src/index.js'
import { useLoadCache } from '../../src/yoga/index.js'

export interface Context {
  viewerId: string | null
}

/**
 * A small library API to exercise the directives: authors and books in plain arrays, with a count of every
 * resolver run (the directives' promise is about how often the original resolver runs).
 */
export function libraryFixture(cacheOptions: CreateCacheOptions = {}) {
  const authors = new Map(
    Array.from({ length: 100 }, (_, i) => [
      String(i + 1),
      { id: String(i + 1), name: `Author ${i + 1}`, secret: `secret of ${i + 1}` },
    ]),
  )
  const books = Array.from({ length: 300 }, (_, i) => ({
    id: String(i + 1),
    title: `Book ${i + 1}`,
    genre: i % 2 === 0 ? 'fantasy' : 'crime',
    authorId: String((i % 100) + 1),
  }))
  const runs: Record<string, number> = {}
  const ran = (coordinate: string) => {
    runs[coordinate] = (runs[coordinate] ?? 0) + 1
  }
  let failNextAuthor = false

  const typeDefs = /* GraphQL */ `
    ${loadCacheDirectiveTypeDefs()}
    type Query {
      author(id: ID!): Author @cached(ttl: 60)
      authors(ids: [ID!]!): [Author]!
      books(genre: String, limit: Int): [Book!]! @cached(ttl: 30, tags: ["books", "books:genre:{args.genre}"])
      me: Author @cached(ttl: 45, scope: PRIVATE)
    }
    type Author {
      id: ID!
      name: String!
      secret: String @cached(ttl: 60, scope: PRIVATE)
      bookCount: Int! @cached(ttl: 120)
    }
    type Book {
      id: ID!
      title: String!
      genre: String!
      author: Author!
    }
    type Mutation {
      renameAuthor(id: ID!, name: String!): Author
      addAuthor(id: ID!, name: String!): Author!
      addBook(authorId: ID!, title: String!, genre: String!): Book!
        @invalidates(tags: ["books", "books:genre:{args.genre}", "Author:{args.authorId}"])
      failingRename(id: ID!): Author @invalidates(tags: ["books"])
    }
  `

  const resolvers = {
    Query: {
      author: (_: unknown, args: { id: string }) => {
        ran('Query.author')
        if (failNextAuthor) {
          failNextAuthor = false
          throw new Error('author lookup failed')
        }
        return authors.get(args.id) ?? null
      },
      authors: (_: unknown, args: { ids: string[] }) => {
        ran('Query.authors')
        return args.ids.map((id) => authors.get(id) ?? null)
      },
      books: (_: unknown, args: { genre?: string; limit?: number }) => {
        ran('Query.books')
        const matching = books.filter((book) => !args.genre || book.genre === args.genre)
        return matching.slice(0, args.limit ?? matching.length)
      },
      me: (_: unknown, __: unknown, context: Context) => {
        ran('Query.me')
        return context.viewerId ? (authors.get(context.viewerId) ?? null) : null
      },
    },
    Author: {
      secret: (author: { id: string; secret: string }, _: unknown, context: Context) => {
        ran('Author.secret')
        return context.viewerId === author.id ? author.secret : null
      },
      bookCount: (author: { id: string }) => {
        ran('Author.bookCount')
        return books.filter((book) => book.authorId === author.id).length
      },
    },
    Book: {
      author: (book: { authorId: string }) => authors.get(book.authorId),
    },
    Mutation: {
      renameAuthor: (_: unknown, args: { id: string; name: string }) => {
        const author = authors.get(args.id)
        if (!author) return null
        author.name = args.name
        return { ...author }
      },
      addAuthor: (_: unknown, args: { id: string; name: string }) => {
        const author = { id: args.id, name: args.name, secret: `secret of ${args.id}` }
        authors.set(args.id, author)
        return author
      },
      addBook: (_: unknown, args: { authorId: string; title: string; genre: string }) => {
        const book = {
          id: String(books.length + 1),
          title: args.title,
          genre: args.genre,
          authorId: args.authorId,
        }
        books.push(book)
        return book
      },
      failingRename: () => {
        throw new Error('rename refused')
      },
    },
  }

  const schema = makeExecutableSchema({ typeDefs, resolvers })
  const caches: LoadCache[] = []

  /** A yoga server on its own cache (another "instance" when given the same Redis). */
  function server(options: { debug?: boolean; cache?: LoadCache } = {}) {
    const cache = options.cache ?? createCache(cacheOptions)
    caches.push(cache)
    const yoga = createYoga<Record<string, unknown>, Context>({
      schema,
      logging: false,
      maskedErrors: false,
      context: ({ request }: { request: Request }) => ({ viewerId: viewerOf(request) }),
      plugins: [
        useLoadCache({ cache, viewer: (context) => viewerOf(context.request), debug: options.debug }),
      ],
    })
    async function query(
      source: string,
      variables: Record<string, unknown> = {},
      viewer?: string,
    ): Promise<{
      data?: Record<string, unknown>
      errors?: { message: string }[]
      extensions?: Record<string, unknown>
      cacheControl: string | null
    }> {
      const response = await yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(viewer ? { authorization: `Bearer ${viewer}` } : {}),
        },
        body: JSON.stringify({ query: source, variables }),
      })
      const body = (await response.json()) as Record<string, never>
      return { ...body, cacheControl: response.headers.get('cache-control') }
    }
    return { yoga, cache, query }
  }

  return {
    authors,
    books,
    runs,
    server,
    failNextAuthor: () => {
      failNextAuthor = true
    },
    close: () => Promise.all(caches.map((cache) => cache.close())),
  }
}

function viewerOf(request: Request): string | null {
  const header = request.headers.get('authorization')
  return header?.startsWith('Bearer ') ? header.slice(7) : null
}
