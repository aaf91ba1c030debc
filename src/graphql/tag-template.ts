import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
} from 'graphql'

/** Where a template variable reads from: the field's arguments, its parent object, or its result. */
export type TemplateRoot = 'args' | 'parent' | 'result'

type Part = { readonly text: string } | { readonly root: TemplateRoot; readonly path: readonly string[] }

/** A tag template such as `posts:author:{args.input.authorId}`, parsed and checked against the schema once. */
export interface TagTemplate {
  readonly source: string
  readonly parts: readonly Part[]
  /** Whether it reads `result`: such tags can only be resolved once the value is known. */
  readonly usesResult: boolean
}

export interface TemplateContext {
  readonly coordinate: string
  readonly field: GraphQLField<unknown, unknown>
  readonly parentType: GraphQLNamedType
  readonly allowed: readonly TemplateRoot[]
}

/** Thrown at schema build time; the message names the field and the template. */
export class TemplateError extends Error {}

const VARIABLE = /\{([^{}]*)\}/g

/**
 * Parses a template and checks every variable against the schema: the root must be allowed here, and each
 * path step must be an argument, an input field or an output field that exists. A typo fails the schema
 * build instead of producing a tag nothing ever invalidates.
 */
export function parseTagTemplate(source: string, context: TemplateContext): TagTemplate {
  const parts: Part[] = []
  let last = 0
  let usesResult = false
  for (const match of source.matchAll(VARIABLE)) {
    if (match.index > last) parts.push({ text: source.slice(last, match.index) })
    last = match.index + match[0].length
    const expression = match[1]!.trim()
    const [root, ...path] = expression.split('.')
    const fail = (reason: string): never => {
      throw new TemplateError(`tag template "${source}" on ${context.coordinate}: ${reason}`)
    }
    if (root !== 'args' && root !== 'parent' && root !== 'result') {
      fail(`"{${expression}}" must start with args., parent. or result.`)
    }
    const templateRoot = root as TemplateRoot
    if (!context.allowed.includes(templateRoot)) {
      fail(`"{${expression}}" cannot use ${root} here (allowed: ${context.allowed.join(', ')})`)
    }
    if (path.length === 0 || path.some((step) => step === ''))
      fail(`"{${expression}}" needs a path, like {${root}.id}`)
    checkPath(templateRoot, path, context, fail)
    if (templateRoot === 'result') usesResult = true
    parts.push({ root: templateRoot, path })
  }
  const rest = source.slice(last)
  if (rest.includes('{') || rest.includes('}')) {
    throw new TemplateError(`tag template "${source}" on ${context.coordinate}: unbalanced { or }`)
  }
  if (rest !== '') parts.push({ text: rest })
  return { source, parts, usesResult }
}

function checkPath(
  root: TemplateRoot,
  path: readonly string[],
  context: TemplateContext,
  fail: (reason: string) => never,
): void {
  const [first, ...rest] = path as [string, ...string[]]
  const where = `{${root}.${path.join('.')}}`
  if (root === 'args') {
    const arg = context.field.args.find((candidate: GraphQLArgument) => candidate.name === first)
    if (arg === undefined) {
      const names = context.field.args.map((candidate) => candidate.name)
      fail(
        `${where} names argument "${first}", but ${context.coordinate} has ${names.length ? `only: ${names.join(', ')}` : 'no arguments'}`,
      )
    }
    checkInputPath(arg!.type, rest, where, fail)
    return
  }
  const start: GraphQLNamedType = root === 'parent' ? context.parentType : getNamedType(context.field.type)
  checkOutputPath(start, path, where, fail)
}

function checkInputPath(
  type: GraphQLInputType,
  path: readonly string[],
  where: string,
  fail: (reason: string) => never,
): void {
  let current = getNamedType(type)
  for (const step of path) {
    if (!isInputObjectType(current)) fail(`${where}: ${current.name} has no field "${step}"`)
    const field = (current as GraphQLInputObjectType).getFields()[step]
    if (field === undefined) fail(`${where}: ${current.name} has no field "${step}"`)
    current = getNamedType(field!.type)
  }
}

function checkOutputPath(
  start: GraphQLNamedType,
  path: readonly string[],
  where: string,
  fail: (reason: string) => never,
): void {
  let current = start
  for (const step of path) {
    if (!isObjectType(current) && !isInterfaceType(current))
      fail(`${where}: ${current.name} has no field "${step}"`)
    const field = (current as GraphQLObjectType).getFields()[step]
    if (field === undefined) fail(`${where}: ${current.name} has no field "${step}"`)
    current = getNamedType(field!.type as GraphQLOutputType)
  }
}

/**
 * Renders a template for one call. A variable that reads a list yields one tag per element (so
 * `post:{result.id}` on a list field tags every post). A variable with no value (null, missing) drops the
 * tag: a tag that names nothing would never be invalidated anyway.
 */
export function renderTagTemplate(
  template: TagTemplate,
  sources: { readonly args: unknown; readonly parent: unknown; readonly result: unknown },
): string[] {
  let outputs = ['']
  for (const part of template.parts) {
    if ('text' in part) {
      outputs = outputs.map((output) => output + part.text)
      continue
    }
    const values = readPath(sources[part.root], part.path)
    if (values.length === 0) return []
    const next: string[] = []
    for (const output of outputs) for (const value of values) next.push(output + value)
    outputs = next
  }
  return outputs
}

function readPath(value: unknown, path: readonly string[]): string[] {
  let current: unknown[] = [value]
  for (const step of path) {
    const next: unknown[] = []
    for (const item of current.flat(Number.POSITIVE_INFINITY)) {
      if (item !== null && typeof item === 'object') {
        const member = (item as Record<string, unknown>)[step]
        if (member !== undefined && member !== null) next.push(member)
      }
    }
    current = next
  }
  return current
    .flat(Number.POSITIVE_INFINITY)
    .filter((item) => typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean')
    .map(String)
}
