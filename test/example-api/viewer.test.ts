import { describe, expect, it } from 'vitest'
import { viewerFromRequest } from '../../example-api/context.js'

const request = (authorization?: string) =>
  new Request('http://example-api.test/graphql', {
    headers: authorization === undefined ? {} : { authorization },
  })

describe('viewerFromRequest', () => {
  it('reads the user id of a Bearer credential, whatever the scheme’s case', () => {
    expect(viewerFromRequest(request('Bearer 42'))).toBe('42')
    expect(viewerFromRequest(request('bearer 7'))).toBe('7')
    expect(viewerFromRequest(request('BEARER\t7 '))).toBe('7')
  })

  it('is null without a header, for other schemes, and for malformed credentials', () => {
    expect(viewerFromRequest(request())).toBeNull()
    expect(viewerFromRequest(request('Basic dXNlcjpwYXNz'))).toBeNull()
    expect(viewerFromRequest(request('Bearer'))).toBeNull()
    expect(viewerFromRequest(request('Bearer 1 2'))).toBeNull()
    expect(viewerFromRequest(request('Bearer42'))).toBeNull()
  })
})
