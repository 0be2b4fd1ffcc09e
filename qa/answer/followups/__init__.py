"""Follow-up questions: the conversation, the rules that resolve a follow-up against the previous
turn, and the entities those rules need."""
