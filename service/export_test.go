package service

// RoutePatterns is the router's own list of routes, for the role × endpoint test.
func (s *Service) RoutePatterns() []string {
	var out []string
	for _, rt := range s.routes() {
		out = append(out, rt.pattern)
	}
	return out
}
