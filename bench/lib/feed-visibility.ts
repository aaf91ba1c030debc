/**
 * What a feed read must show after writes that resolved before it started: the churn workload's check.
 *
 * Writes rename users to `bench-u<id>-v<version>` (versions rise per user) and add comments to posts of
 * the feed. A read that started after a rename of user U to version v resolved must show U (who is in the
 * feed) only under versions ≥ v, everywhere U appears; a read that started after the k-th comment on a
 * post resolved must list at least that post's comment count then. Reads that overlap a write are not
 * held to it (they may legitimately see either state).
 */

/** The requirements in force at one instant (immutable: reads keep the one current when they started). */
export interface FeedRequirements {
  /** Lowest name version each renamed user must show. */
  readonly versions: ReadonlyMap<string, number>
  /** Least comment count of each post of the feed, by position. */
  readonly commentCounts: readonly number[]
  /** Writes resolved so far. */
  readonly writes: number
}

export interface FeedShape {
  posts: { author: { name: string }; comments: { author: { name: string } }[] }[]
}

export type Visibility = 'visible' | 'rename not visible' | 'comment not visible'

const BENCH_NAME = /^bench-u(\d+)-v(\d+)$/

export function benchName(userId: string, version: number): string {
  return `bench-u${userId}-v${version}`
}

/** Whether a feed response shows every write in `required`. */
export function checkFeed(feed: FeedShape, required: FeedRequirements): Visibility {
  for (const [i, least] of required.commentCounts.entries()) {
    if ((feed.posts[i]?.comments.length ?? 0) < least) return 'comment not visible'
  }
  if (required.versions.size === 0) return 'visible'
  const lowest = new Map<string, number>()
  const see = (name: string) => {
    const match = BENCH_NAME.exec(name)
    if (match === null) return
    const version = Number(match[2])
    lowest.set(match[1]!, Math.min(lowest.get(match[1]!) ?? Number.POSITIVE_INFINITY, version))
  }
  for (const post of feed.posts) {
    see(post.author.name)
    for (const comment of post.comments) see(comment.author.name)
  }
  for (const [user, least] of required.versions) {
    // Absent under any bench name: the read still shows the seeded name, older than every rename.
    if ((lowest.get(user) ?? Number.NEGATIVE_INFINITY) < least) return 'rename not visible'
  }
  return 'visible'
}
