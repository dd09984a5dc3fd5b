"""What the integration tests, the fault suite and the bench share: the live stack and its doors
(`stack`), file bursts (`burst`), sample orders (`orders`), polling with deadlines (`polling`)."""
