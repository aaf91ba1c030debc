import { getOperationAST } from 'graphql'
import type { Plugin } from 'graphql-yoga'
import { refusedRequest } from './client-errors.js'

/**
 * Refuses mutations from anonymous requests with a 401 and `extensions.code: 'UNAUTHENTICATED'`, before
 * any resolver runs: no write, and no cache eviction, happens without a viewer. Queries stay open to
 * everyone. `viewerOf` reads the viewer from the request's context (`null` for anonymous).
 *
 * Checked in `onExecute`, after validation, where the operation to run is known, and before execution.
 * Put it before `useLoadCache` in the plugin list, so that the cache's own execute hooks never see the
 * refused operation.
 */
export function useRequireViewerForMutations<Context>(viewerOf: (context: Context) => string | null): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName)
      if (operation?.operation !== 'mutation') return
      if (viewerOf(args.contextValue as Context) !== null) return
      setResultAndStopExecution({
        errors: [
          refusedRequest('Mutations need a signed-in viewer: send `authorization: Bearer <userId>`.', {
            code: 'UNAUTHENTICATED',
            status: 401,
            // RFC 9110: a 401 names the authentication scheme the server accepts.
            headers: { 'www-authenticate': 'Bearer' },
          }),
        ],
      })
    },
  }
}
