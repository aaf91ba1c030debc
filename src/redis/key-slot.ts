/**
 * The Redis Cluster hash slot of a key (CRC16/XMODEM of the key, or of its `{hash tag}`, mod 16384), so
 * a batch can be split into per-slot scripts: a script may only touch keys of one slot.
 */
const TABLE = (() => {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 8
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
    table[i] = crc
  }
  return table
})()

export function keySlot(key: string): number {
  let bytes = Buffer.from(key, 'utf8')
  const open = bytes.indexOf(0x7b) // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1) // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close)
  }
  let crc = 0
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!
  return crc & 0x3fff
}

/** Groups keys by slot, keeping each key's position in the input. */
export function groupBySlot(keys: readonly string[]): Map<number, number[]> {
  const groups = new Map<number, number[]>()
  for (let i = 0; i < keys.length; i++) {
    const slot = keySlot(keys[i]!)
    let group = groups.get(slot)
    if (group === undefined) {
      group = []
      groups.set(slot, group)
    }
    group.push(i)
  }
  return groups
}

/**
 * Groups key positions by the master that owns their slot in `slots` (a Cluster client's slot map: per
 * slot, the owner's node key first), in runs of at most `max`. Positions whose slot has no known owner
 * are left out and returned apart.
 */
export function groupByMaster(
  slots: readonly (readonly string[] | undefined)[],
  keys: readonly string[],
  max: number,
): { groups: number[][]; unowned: number[] } {
  const byOwner = new Map<string, number[]>()
  const unowned: number[] = []
  for (let i = 0; i < keys.length; i++) {
    const owner = slots[keySlot(keys[i]!)]?.[0]
    if (owner === undefined) {
      unowned.push(i)
      continue
    }
    let group = byOwner.get(owner)
    if (group === undefined) {
      group = []
      byOwner.set(owner, group)
    }
    group.push(i)
  }
  const groups: number[][] = []
  for (const group of byOwner.values()) {
    for (let start = 0; start < group.length; start += max) groups.push(group.slice(start, start + max))
  }
  return { groups, unowned }
}
